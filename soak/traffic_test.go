package soak

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// perAddress is how many guests register from one loopback source address:
// well under the portal's per-client burst (30), so that its rate limit,
// which is doing its job, does not turn a burst into 429s. Each guest is a
// device of its own: its own address, cookies and connection.
const perAddress = 10

// traffic registers guests through the portal of whichever nodes are live
// and remembers which registrations were accepted, and when.
type traffic struct {
	prefix  string         // makes the emails of one scenario unique
	targets func() []*node // the nodes to send registrations to, live ones first
	seq     atomic.Int64   // registration number: email and source address
	rr      atomic.Int64   // round robin over targets

	mu       sync.Mutex
	accepted map[string]time.Time // email → when the 303 came back
	failed   int                  // no answer (connection refused or cut, timeout)
	refused  map[int]int          // other answers, by status code
	noRetry  int                  // 503 answers without Retry-After
}

func newTraffic(prefix string, targets func() []*node) *traffic {
	return &traffic{prefix: prefix, targets: targets, accepted: map[string]time.Time{}, refused: map[int]int{}}
}

// load is one run of registrations: count accepted ones as fast as workers
// go (count > 0), or one every interval until stop is closed.
type load struct {
	count    int
	interval time.Duration
	stop     <-chan struct{}
	workers  int
}

// run registers guests until the load is done or ctx ends. A worker whose
// registration got no answer waits until a node answers /readyz before it
// tries the next one, so that a process being restarted does not burn the
// burst on refused connections.
func (tr *traffic) run(ctx context.Context, l load) error {
	jobs := make(chan struct{})
	var left atomic.Int64 // accepted registrations still to make, count mode
	left.Store(int64(l.count))
	// Ending the producer does not end the requests in flight: a request cut
	// short would count as unanswered although the portal may have taken it.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the producer
		defer close(jobs)
		var tick <-chan time.Time
		if l.interval > 0 {
			t := time.NewTicker(l.interval)
			defer t.Stop()
			tick = t.C
		}
		for {
			if tick != nil {
				select {
				case <-tick:
				case <-l.stop:
					return
				case <-pctx.Done():
					return
				}
				select { // a tick with every worker busy is skipped
				case jobs <- struct{}{}:
				default:
				}
				continue
			}
			select {
			case jobs <- struct{}{}:
			case <-pctx.Done():
				return
			}
		}
	}()
	// A burst that keeps being refused ends rather than running until the
	// test's timeout.
	var attempts atomic.Int64
	maxAttempts := int64(2*l.count + 100)
	var wg sync.WaitGroup
	errs := make(chan error, l.workers)
	for range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if l.count > 0 && left.Add(-1) < 0 {
					cancel()
					return
				}
				if l.count > 0 && attempts.Add(1) > maxAttempts {
					errs <- fmt.Errorf("gave up after %d registrations with %d of %d accepted", maxAttempts, tr.acceptedCount(), l.count)
					cancel()
					return
				}
				ok, err := tr.registerOne(ctx)
				if l.count > 0 && !ok {
					left.Add(1)
				}
				if err != nil && pctx.Err() == nil {
					if werr := tr.waitUp(pctx); werr != nil {
						errs <- werr
						cancel()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return errors.Join(<-errs)
}

// waitUp waits until one of the targets answers /readyz.
func (tr *traffic) waitUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, n := range tr.targets() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/readyz", nil)
			if res, err := client.Do(req); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("no node answered /readyz within %v", readyTimeout)
			}
			return nil
		case <-tick.C:
		}
	}
}

// sourceAddr is the a-th loopback address registrations come from.
func sourceAddr(a int) net.IP { return net.IPv4(127, 20, byte(1+a/250), byte(1+a%250)) }

// requireSourceAddrs checks that connections can come from loopback
// addresses other than 127.0.0.1 (Linux routes all of 127.0.0.0/8 to lo;
// macOS, for one, has only 127.0.0.1 unless told otherwise). Without them
// the test is skipped, or fails under CI=true.
func requireSourceAddrs(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceAddr(0)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err == nil {
		c.Close()
		return
	}
	msg := fmt.Sprintf("cannot connect from %v (the suite's guests come from many loopback addresses, "+
		"as many phones do, so that the portal's per-client rate limit lets a burst through): %v", sourceAddr(0), err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(csrf_token|nonce)" value="([^"]*)">`)

// registerOne registers one guest as a phone would: from an address of its
// own, it loads the form (CSRF cookie, nonce) and posts it. It reports
// whether the portal answered with the success redirect; err is set when
// there was no answer at all.
func (tr *traffic) registerOne(ctx context.Context) (accepted bool, err error) {
	targets := tr.targets()
	if len(targets) == 0 {
		return false, errors.New("no node to register with")
	}
	base := targets[int(tr.rr.Add(1)-1)%len(targets)].URL()
	i := tr.seq.Add(1)
	email := fmt.Sprintf("%s-%06d@soak.example.org", tr.prefix, i)

	src := sourceAddr(int(i-1) / perAddress)
	tp := &http.Transport{
		DialContext:         (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1,
	}
	defer tp.CloseIdleConnections()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Transport: tp, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/portal/register", nil)
	res, err := client.Do(req)
	if err != nil {
		tr.fail()
		return false, err
	}
	page, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		tr.fail()
		return false, err
	}
	if res.StatusCode != http.StatusOK {
		tr.refuse(res)
		return false, nil
	}
	form := url.Values{}
	for _, m := range hiddenRE.FindAllSubmatch(page, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	form.Set("first_name", "Soak")
	form.Set("last_name", "Guest")
	form.Set("email", email)
	form.Set("terms", "on")
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/portal/register", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = client.Do(req)
	if err != nil {
		tr.fail()
		return false, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "registered/") {
		tr.refuse(res)
		return false, nil
	}
	tr.mu.Lock()
	tr.accepted[email] = time.Now()
	tr.mu.Unlock()
	return true, nil
}

func (tr *traffic) fail() {
	tr.mu.Lock()
	tr.failed++
	tr.mu.Unlock()
}

// refuse counts an answer other than the one expected, by status; a 503
// (the database briefly unavailable) must say when to try again.
func (tr *traffic) refuse(res *http.Response) {
	tr.mu.Lock()
	tr.refused[res.StatusCode]++
	if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
		tr.noRetry++
	}
	tr.mu.Unlock()
}

// acceptedCount is how many registrations were accepted so far.
func (tr *traffic) acceptedCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.accepted)
}

// snapshot copies the accepted registrations.
func (tr *traffic) snapshot() (accepted map[string]time.Time, failed int, refused map[int]int, noRetry int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	accepted = make(map[string]time.Time, len(tr.accepted))
	for k, v := range tr.accepted {
		accepted[k] = v
	}
	refused = make(map[int]int, len(tr.refused))
	for k, v := range tr.refused {
		refused[k] = v
	}
	return accepted, tr.failed, refused, tr.noRetry
}
