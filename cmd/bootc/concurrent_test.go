package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.podman.io/image/v5/pkg/sysregistriesv2"

	"github.com/bootc-go/bootc/internal/testskip"
	"github.com/bootc-go/bootc/ostree"
)

// buildBootc builds the bootc binary into the test's temporary directory.
func buildBootc(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		testskip.Skipf(t, "tool:go", "needs the go command to build bootc: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bootc")
	if out, err := exec.Command(gobin, "build", "-tags", tags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// gateProxy is a reverse proxy to a registry that, once armed, holds every blob request
// until it is opened: an upgrade going through it stops in the middle of its fetch, while
// it holds the sysroot lock.
type gateProxy struct {
	host    string
	armed   atomic.Bool
	waiting chan struct{} // closed when the first request is held
	release chan struct{} // closed by open
	once    sync.Once
	relOnce sync.Once
}

func startGate(t *testing.T, upstream string) *gateProxy {
	t.Helper()
	g := &gateProxy{waiting: make(chan struct{}), release: make(chan struct{})}
	target, _ := url.Parse("http://" + upstream)
	proxy := httputil.NewSingleHostReverseProxy(target)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.host = l.Addr().String()
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.armed.Load() && strings.Contains(r.URL.Path, "/blobs/") {
			g.once.Do(func() { close(g.waiting) })
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		g.open()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return g
}

func (g *gateProxy) open() { g.relOnce.Do(func() { close(g.release) }) }

// proc is a bootc process started by a test; its stderr is watched for a line.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	mu             sync.Mutex
	sawWait        chan struct{} // closed when stderr has "Waiting for the sysroot lock"
	done           chan struct{} // closed when the process exited
	err            error
}

const lockWaitLine = "Waiting for the sysroot lock"

func startBootc(t *testing.T, ctx context.Context, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.CommandContext(ctx, bin, args...), sawWait: make(chan struct{}), done: make(chan struct{})}
	p.cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.stdout}
	pr, pw := io.Pipe()
	p.cmd.Stderr = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		var once sync.Once
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), lockWaitLine) {
				once.Do(func() { close(p.sawWait) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		err := p.cmd.Wait()
		pw.Close()
		<-scanned
		p.err = err
		close(p.done)
	}()
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("exit: %v\nstdout:\n%s\nstderr:\n%s", p.err, p.stdout.String(), p.stderr.String())
}

// await waits for ch, failing the test if the process exits first or the context ends.
func (p *proc) await(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-p.done:
		select {
		case <-ch:
			return
		default:
		}
		t.Fatalf("bootc %s exited before %s:\n%s", strings.Join(p.cmd.Args[1:], " "), what, p.output())
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
	}
}

// wait waits for the process to exit and fails the test unless it succeeded.
func (p *proc) wait(t *testing.T) {
	t.Helper()
	<-p.done
	if p.err != nil {
		t.Fatalf("bootc %s failed:\n%s", strings.Join(p.cmd.Args[1:], " "), p.output())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestConcurrentUpgrades runs two bootc upgrade processes (the real binary) on one offline
// sysroot and one store while the tracked tag has moved. The first is held in the middle of
// its fetch, holding the sysroot lock, until the second has said that it waits for the lock;
// then both finish: exactly one new deployment is made, the second finds nothing to do, and
// ostree finds the sysroot and repository sound. Then a lock held by another libostree user
// (this test) makes bootc rollback wait too.
func TestConcurrentUpgrades(t *testing.T) {
	h := newTestHost(t)
	bin := buildBootc(t)
	r := startRegistry(t)
	gate := startGate(t, r.reg.Host())
	// The gate is the registry the host tracks: plain HTTP too.
	conf := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", gate.host)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_REGISTRIES_CONF", conf)
	sysregistriesv2.InvalidateCache()

	v1 := r.push(t, bootableImage("1"), "latest")
	h.bootc(t, "switch", "--quiet", gate.host+"/os:latest")
	v2 := r.push(t, bootableImage("2"), "latest")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"--sysroot", h.sysroot, "--storage-root", h.storage, "upgrade", "--quiet"}
	gate.armed.Store(true)
	first := startBootc(t, ctx, bin, args...)
	first.await(t, ctx, gate.waiting, "fetching from the registry")
	second := startBootc(t, ctx, bin, args...)
	second.await(t, ctx, second.sawWait, "saying it waits for the sysroot lock")
	gate.open()
	first.wait(t)
	second.wait(t)
	t.Logf("first:\n%s\nsecond:\n%s", first.output(), second.output())

	if out := first.stdout.String(); !strings.Contains(out, "Queued for next boot") || !strings.Contains(out, v2.ManifestDigest.String()) {
		t.Errorf("the first upgrade did not deploy v2:\n%s", first.output())
	}
	if strings.Contains(first.stderr.String(), lockWaitLine) {
		t.Errorf("the first upgrade waited for the lock:\n%s", first.output())
	}
	if out := strings.TrimSpace(second.stdout.String()); out != "No update available." {
		t.Errorf("the second upgrade, after the first, did not find v2 deployed:\n%s", second.output())
	}

	// Exactly one new deployment: v2, with v1 as the rollback.
	admin := h.adminStatus(t)
	if n := strings.Count(admin, "default "); n != 2 {
		t.Errorf("%d deployments, want 2:\n%s", n, admin)
	}
	dirs, _ := filepath.Glob(filepath.Join(h.sysroot, "ostree/deploy/default/deploy/*.[0-9]"))
	if len(dirs) != 2 {
		t.Errorf("deployment directories: %q, want 2", dirs)
	}
	st := h.status(t)
	if st.Status.Booted.Image.ImageDigest != v2.ManifestDigest.String() || st.Status.Rollback == nil ||
		st.Status.Rollback.Image.ImageDigest != v1.ManifestDigest.String() {
		t.Errorf("want v2 booting next and v1 as rollback:\n%+v\n%+v", st.Status.Booted, st.Status.Rollback)
	}
	h.fsck(t)

	// Another libostree user holds the lock: bootc waits, then does its work.
	sr, err := ostree.OpenSysroot(h.sysroot)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	if got, err := sr.TryLock(); err != nil || !got {
		t.Fatalf("TryLock: %v %v", got, err)
	}
	rb := startBootc(t, ctx, bin, "--sysroot", h.sysroot, "rollback")
	rb.await(t, ctx, rb.sawWait, "saying it waits for the sysroot lock")
	sr.Unlock()
	rb.wait(t)
	if st := h.status(t); st.Status.Booted.Image.ImageDigest != v1.ManifestDigest.String() {
		t.Errorf("after the rollback v1 does not boot next: %+v", st.Status.Booted)
	}
	h.fsck(t)
}
