package lobby

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lobbyhq/lobby/admin"
	"github.com/lobbyhq/lobby/api"
	"github.com/lobbyhq/lobby/captive"
	"github.com/lobbyhq/lobby/forwardauth"
	"github.com/lobbyhq/lobby/internal/webkit"
	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/portal"
	"github.com/lobbyhq/lobby/radius"
	"github.com/lobbyhq/lobby/sponsor"
	"github.com/lobbyhq/lobby/storage"
	"github.com/lobbyhq/lobby/web"
)

// Lobby is a configured guest-access portal: the HTTP handler, the gate
// middleware and the background work. Build it with New.
type Lobby struct {
	cfg      Config
	logger   *slog.Logger
	basePath string

	registry  *prometheus.Registry
	metrics   httpMetrics
	transport *notify.Transport // nil when the Dispatcher was given
	settings  notify.SettingsSource
	mail      *notify.Dispatcher
	ownMail   bool
	// delivery is the dispatcher's own Store (see deliveryStorer), closed
	// by Close; nil when the dispatcher uses cfg.Store.
	delivery storage.Store
	portal   *portal.Portal
	sponsor  *sponsor.Sponsor
	admin    *admin.Admin
	radius   *radius.Handler // nil without Config.RADIUSSecret
	api      *api.API
	assets   *webkit.Assets
	handler  http.Handler
	gates    *gateCache

	forwardAuth *forwardauth.Handler // the forward-auth endpoint for reverse proxies
	captive     *captive.API         // the RFC 8908 captive-portal API

	// writes remembers the store's recent write failures for /readyz;
	// store is cfg.Store as the dispatcher and the portal write through it.
	writes *writeHealth
	store  storage.Store

	alarms     *notify.Alarms
	alarmWatch *alarmWatch

	closeOnce sync.Once
}

// New validates cfg, reporting every problem at once, and builds Lobby: the
// SMTP transport and token cache, the dispatcher reading the stored SMTP
// settings (unless cfg.Dispatcher is given), the notification renderer and
// the guest portal. Call Run for the background work and Close when done.
func New(cfg Config) (*Lobby, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	secure := strings.HasPrefix(strings.ToLower(cfg.BaseURL), "https:")
	if cfg.SecureCookies != nil {
		secure = *cfg.SecureCookies
	}

	l := &Lobby{
		cfg:      cfg,
		logger:   cfg.Logger,
		basePath: basePath(cfg.BaseURL),
		registry: prometheus.NewRegistry(),
		gates:    newGateCache(cfg.GuestCacheTTL),
	}
	l.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	l.metrics = newHTTPMetrics(l.registry)
	l.writes = &writeHealth{now: cfg.Now}
	l.store = observedStore{Store: cfg.Store, h: l.writes}

	l.settings = cfg.MailSettings
	settingsSaved := func() {}
	if l.settings == nil {
		// Re-read at most every couple of seconds (so that every replica
		// picks up a save), and at once on this one after the admin saves.
		cache := notify.NewSettingsCache(cfg.Store, notify.DefaultSettingsCacheTTL)
		l.settings, settingsSaved = cache.Get, cache.Invalidate
	}
	l.mail = cfg.Dispatcher
	if l.mail == nil {
		workers := cmp.Or(cfg.MailWorkers, notify.DefaultWorkers)
		l.transport = notify.NewTransport(notify.TransportOptions{
			// One connection per worker: a worker never waits for another's connection.
			PoolSize: workers,
			Tokens:   notify.NewTokenCache(notify.TokenCacheOptions{Logger: cfg.Logger}),
			Logger:   cfg.Logger,
		})
		l.registry.MustRegister(notify.NewStatsCollector(l.transport.Stats))
		mailStore := cfg.Store
		if ds, ok := cfg.Store.(deliveryStorer); ok {
			st, err := ds.DeliveryStore(context.Background(), max(4, workers/4))
			if err != nil {
				l.closeTransport()
				return nil, fmt.Errorf("lobby: mail: %w", err)
			}
			mailStore, l.delivery = st, st
		}
		d, err := notify.NewDispatcher(notify.DispatcherConfig{
			Store:    observedStore{Store: mailStore, h: l.writes},
			Settings: l.settings,
			Sender:   l.transport,
			Workers:  workers,
			Logger:   cfg.Logger,
			// Run's ctx ending starts the dispatcher's graceful shutdown.
			ShutdownTimeout: cfg.ShutdownTimeout,
			Now:             cfg.Now,
			Registerer:      l.registry,
		})
		if err != nil {
			l.closeTransport()
			return nil, fmt.Errorf("lobby: mail: %w", err)
		}
		l.mail, l.ownMail = d, true
	}

	renderer, err := notify.NewRenderer(cfg.Templates)
	if err != nil {
		l.closeTransport()
		return nil, fmt.Errorf("lobby: email templates: %w", err)
	}
	p, err := portal.New(portal.Config{
		Store:         l.store,
		Mail:          l.mail,
		Renderer:      renderer,
		BaseURL:       strings.TrimRight(cfg.BaseURL, "/") + "/portal",
		SecretKey:     cfg.SecretKey,
		Policy:        cfg.Portal,
		Logger:        cfg.Logger,
		Now:           cfg.Now,
		SecureCookies: secure,

		Limits:            cfg.Limits,
		TrustProxyHeaders: cfg.TrustProxyHeaders,
		ProxyHeader:       cfg.ProxyHeader,
		TrustedProxyHops:  cfg.TrustedProxyHops,
		OnSignIn:          l.signedIn,
	})
	if err != nil {
		l.closeTransport()
		return nil, fmt.Errorf("lobby: portal: %w", err)
	}
	l.portal = p
	sp, err := sponsor.New(sponsor.Config{
		Store:         l.store,
		Guests:        p.Guests(), // one set of guest rules for both sides
		MailWait:      cfg.Portal.SuccessWait,
		BaseURL:       strings.TrimRight(cfg.BaseURL, "/") + "/sponsor",
		SecretKey:     cfg.SecretKey,
		SiteName:      cfg.Portal.SiteName,
		TimeZone:      cfg.Portal.TimeZone,
		Logger:        cfg.Logger,
		Now:           cfg.Now,
		SecureCookies: secure,
		Login:         sponsor.Limit{Burst: cfg.Limits.Login.Burst, Every: cfg.Limits.Login.Every},
		AdminURL:      l.basePath + "/admin/",

		TrustProxyHeaders: cfg.TrustProxyHeaders,
		ProxyHeader:       cfg.ProxyHeader,
		TrustedProxyHops:  cfg.TrustedProxyHops,
	})
	if err != nil {
		l.closeTransport()
		return nil, fmt.Errorf("lobby: sponsor: %w", err)
	}
	l.sponsor = sp
	if l.api, err = api.New(api.Config{
		Guests:   p.Guests(), // the sponsor pages' rules, permissions and audit
		MailWait: cmp.Or(cfg.Portal.SuccessWait, portal.DefaultSuccessWait),
		Logger:   cfg.Logger,
		Now:      cfg.Now,
	}); err != nil {
		l.closeTransport()
		return nil, fmt.Errorf("lobby: api: %w", err)
	}
	if err := l.buildAlarms(renderer); err != nil {
		l.closeTransport()
		return nil, fmt.Errorf("lobby: alarms: %w", err)
	}
	ad, err := admin.New(admin.Config{
		Store:             l.store,
		Guests:            p.Guests(), // the same rules as the portal's and the sponsor side's
		Staff:             sp,         // the sponsor side's sign-in; admin does not import it
		SignInURL:         l.basePath + "/sponsor/login",
		SignOutURL:        l.basePath + "/sponsor/logout",
		BaseURL:           strings.TrimRight(cfg.BaseURL, "/") + "/admin",
		SecretKey:         cfg.SecretKey,
		SiteName:          cfg.Portal.SiteName,
		TimeZone:          cfg.Portal.TimeZone,
		Logger:            cfg.Logger,
		Now:               cfg.Now,
		SecureCookies:     secure,
		Mail:              l.mail,
		SettingsSaved:     settingsSaved,
		CheckSecretExpiry: l.alarms.CheckSecretExpiry,
		ExportSettings: func(ctx context.Context) ([]byte, error) {
			return ExportSettings(ctx, l.store, cfg.Now())
		},
		ImportSettings: func(ctx context.Context, data []byte, actor string) (admin.SettingsImport, error) {
			rep, err := ImportSettings(ctx, l.store, data, actor)
			return admin.SettingsImport(rep), err
		},

		TrustProxyHeaders: cfg.TrustProxyHeaders,
		ProxyHeader:       cfg.ProxyHeader,
		TrustedProxyHops:  cfg.TrustedProxyHops,
	})
	if err != nil {
		l.closeTransport()
		return nil, fmt.Errorf("lobby: admin: %w", err)
	}
	l.admin = ad
	if cfg.RADIUSSecret != "" {
		if l.radius, err = radius.New(radius.Config{Guests: p.Guests(), Secret: cfg.RADIUSSecret, Logger: cfg.Logger}); err != nil {
			l.closeTransport()
			return nil, fmt.Errorf("lobby: config: RADIUSSecret: %w", err)
		}
	}
	if l.assets, err = webkit.NewAssets(web.Static()); err != nil {
		l.closeTransport()
		return nil, fmt.Errorf("lobby: %w", err)
	}
	if err := l.buildIntegrations(); err != nil {
		l.closeTransport()
		return nil, fmt.Errorf("lobby: %w", err)
	}
	l.handler = l.buildHandler()
	return l, nil
}

// Metrics is the Prometheus registry behind /metrics, for a host that
// serves metrics elsewhere (combine it with prometheus.Gatherers).
func (l *Lobby) Metrics() *prometheus.Registry { return l.registry }

// Dispatcher is the mail dispatcher Lobby uses (built by New or given in
// Config), for a host that sends its own notifications through it.
func (l *Lobby) Dispatcher() *notify.Dispatcher { return l.mail }

// Run does the background work until ctx ends: the mail dispatcher's workers
// and poller (when Lobby built the dispatcher) and the portal's guest
// lifecycle jobs (expiry notices, expiring guests). If one of them fails,
// the others are stopped and its error is returned; when ctx ends, Run
// waits for them to finish and returns nil.
func (l *Lobby) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type task struct {
		name string
		run  func(context.Context) error
	}
	tasks := []task{{"portal jobs", l.portal.RunJobs}, {"alarm checks", l.alarmWatch.run}}
	if l.ownMail {
		tasks = append(tasks, task{"mail dispatcher", l.mail.Run})
	}

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for _, t := range tasks {
		wg.Go(func() {
			err := t.run(ctx)
			if err == nil || ctx.Err() != nil && errors.Is(err, context.Canceled) {
				return
			}
			if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
				// Stopping took longer than allowed (the dispatcher
				// interrupted sends still running): logged, not a failure.
				l.logger.Warn("lobby: run: "+t.name+" stopped late", "error", err.Error())
				return
			}
			errOnce.Do(func() {
				firstErr = fmt.Errorf("lobby: run: %s: %w", t.name, err)
				cancel()
			})
		})
	}
	wg.Wait()
	return firstErr
}

// Close releases what New built: it waits (up to closeTimeout) for the
// portal's background work, such as resend look-ups, then closes the SMTP
// connections of the transport Lobby made. It does not close the Store. Call
// it after the HTTP server has stopped and Run has returned, before closing
// the Store; calling it again does nothing.
func (l *Lobby) Close() error {
	var err error
	l.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		var errs []error
		if perr := l.portal.Shutdown(ctx); perr != nil {
			errs = append(errs, fmt.Errorf("lobby: close: portal background work: %w", perr))
		}
		if terr := l.closeTransport(); terr != nil {
			errs = append(errs, terr)
		}
		err = errors.Join(errs...)
	})
	return err
}

// deliveryStorer is a Store that can give mail delivery a connection
// budget of its own (storage/postgres: a small pool of its own, of conns
// connections; New asks for one per 4 mail workers, at least 4;
// storage/sqlite: writes that go before the page requests' writes), so
// that delivery never starves behind page requests under a rush, nor they
// behind it. New gives the dispatcher it builds such a Store when
// Config.Store offers one.
type deliveryStorer interface {
	DeliveryStore(ctx context.Context, conns int) (storage.Store, error)
}

// closeTimeout bounds how long Close waits for the portal's background work.
const closeTimeout = 30 * time.Second

func (l *Lobby) closeTransport() error {
	var errs []error
	if l.delivery != nil {
		if err := l.delivery.Close(); err != nil {
			errs = append(errs, err)
		}
		l.delivery = nil
	}
	if l.transport == nil {
		return errors.Join(errs...)
	}
	if err := l.transport.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := l.transport.Tokens().Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lobby: close: %w", err)
	}
	return nil
}
