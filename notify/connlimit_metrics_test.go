package notify

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lobbyhq/lobby/notify/exchangetest"
)

// scrape reads /metrics of srv and returns the value of the unlabelled
// metric name, failing t when it is missing.
func scrape(t *testing.T, srv *httptest.Server, name string) float64 {
	t.Helper()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the scrape:\n%s", name, body)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// TestConnLimitMetrics: the pool size, the connection limit and the
// refusals for too many connections are scraped from /metrics, and follow
// a server that allows fewer connections than the pool.
func TestConnLimitMetrics(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t, exchangetest.Options{})
	tr := b.transport(t, TransportOptions{PoolSize: 3})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewStatsCollector(tr.Stats))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)

	for name, want := range map[string]float64{
		"lobby_smtp_pool_size":                  3,
		"lobby_smtp_connection_limit":           3,
		"lobby_smtp_too_many_connections_total": 0,
	} {
		if got := scrape(t, srv, name); got != want {
			t.Errorf("before any send: %s = %v, want %v", name, got, want)
		}
	}

	b.srv.SetConnectionLimit(1)
	b.srv.SetSMTPLatency(20 * time.Millisecond) // the three sends overlap
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if err := tr.Send(ctxT(t), b.settings, testEmail(fmt.Sprint("burst ", i))); err != nil {
				t.Errorf("send %d: %v (%s)", i, err, Diagnose(err))
			}
		})
	}
	wg.Wait()

	st := tr.Stats()
	if st.TooMany == 0 || st.ConnLimit >= 3 {
		t.Fatalf("stats %+v: want refusals and a lowered limit", st)
	}
	if got := scrape(t, srv, "lobby_smtp_connection_limit"); got != float64(st.ConnLimit) {
		t.Errorf("lobby_smtp_connection_limit = %v, want %d", got, st.ConnLimit)
	}
	if got := scrape(t, srv, "lobby_smtp_too_many_connections_total"); got != float64(st.TooMany) {
		t.Errorf("lobby_smtp_too_many_connections_total = %v, want %d", got, st.TooMany)
	}
	if got := scrape(t, srv, "lobby_smtp_pool_size"); got != 3 {
		t.Errorf("lobby_smtp_pool_size = %v, want 3", got)
	}
}
