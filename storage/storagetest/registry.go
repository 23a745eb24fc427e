package storagetest

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"

	"github.com/bootc-go/bootc/internal/testskip"
)

// RegistryBinary is Debian's docker-registry (package docker-registry).
const RegistryBinary = "/usr/bin/docker-registry"

// Registry is a docker-registry process listening on 127.0.0.1 only, with its storage in a
// temporary directory, and a counting reverse proxy (also on 127.0.0.1) in front of it. Clients
// should talk to Host(); the proxy counts requests and bytes per blob.
type Registry struct {
	// Addr is the registry's own address (127.0.0.1:port).
	Addr string
	// Counter counts what goes through the proxy.
	Counter *Counter

	proxyAddr string
	cmd       *exec.Cmd
	server    *http.Server
	exited    chan struct{}
	stderr    *lockedBuffer
}

// Host returns the proxy's host:port, the registry name clients use.
func (r *Registry) Host() string { return r.proxyAddr }

// PID returns the registry process's ID.
func (r *Registry) PID() int { return r.cmd.Process.Pid }

// freeLoopbackPort returns a port that was free on 127.0.0.1.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartRegistry starts docker-registry and the counting proxy; both are stopped (the
// registry's whole process group killed) by t.Cleanup. It skips the test when the binary is
// missing.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	return startTestRegistry(t, "", "")
}

// StartAuthRegistry is StartRegistry for a registry that requires HTTP basic
// authentication as user with password (docker-registry's htpasswd auth, bcrypt).
func StartAuthRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	return startTestRegistry(t, user, password)
}

func startTestRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	if _, err := os.Stat(RegistryBinary); err != nil {
		testskip.Skipf(t, "registry", "local registry unavailable: %s missing (Debian package docker-registry): %v", RegistryBinary, err)
	}
	dir := t.TempDir()
	var htpasswd string
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd = filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := startRegistryIn(dir, htpasswd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stopping registry: %v", err)
		}
	})
	return r
}

// StartRegistryIn starts docker-registry and the counting proxy with the registry's storage
// under dir, for programs that are not tests (benchmarks); the caller stops it with Stop.
func StartRegistryIn(dir string) (*Registry, error) {
	return startRegistryIn(dir, "")
}

// startRegistryIn starts the registry, with htpasswd authentication when htpasswd names a
// file.
func startRegistryIn(dir, htpasswd string) (*Registry, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var r *Registry
		if r, err = startRegistry(dir, htpasswd); err == nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("starting %s: %w", RegistryBinary, err)
}

// startRegistry starts the registry on a free loopback port with storage under dir.
func startRegistry(dir, htpasswd string) (*Registry, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	storeDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  net: tcp
`, storeDir, addr)
	if htpasswd != "" {
		conf += fmt.Sprintf("auth:\n  htpasswd:\n    realm: bootc-test\n    path: %s\n", htpasswd)
	}
	confPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(RegistryBinary, "serve", confPath)
	// No REGISTRY_* variable from the environment may override the configuration (an
	// http.addr override could make it listen elsewhere).
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "REGISTRY_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Registry{Addr: addr, cmd: cmd, exited: make(chan struct{}), stderr: stderr, Counter: newCounter()}
	go func() { _ = cmd.Wait(); close(r.exited) }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (htpasswd != "" && resp.StatusCode == http.StatusUnauthorized) {
				break
			}
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("docker-registry exited: %s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = r.Stop()
			return nil, fmt.Errorf("docker-registry did not answer on %s: %v; output: %s", addr, err, stderr.String())
		}
	}

	target, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = r.Stop()
		return nil, err
	}
	r.proxyAddr = l.Addr().String()
	r.server = &http.Server{Handler: r.Counter.wrap(proxy), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.server.Serve(l) }()
	return r, nil
}

// Stop stops the proxy and kills the registry's process group, waiting for it to exit.
func (r *Registry) Stop() error {
	var errs []error
	if r.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.server.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		r.server = nil
	}
	select {
	case <-r.exited:
	default:
		if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
		}
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			errs = append(errs, fmt.Errorf("docker-registry (pid %d) did not exit", r.cmd.Process.Pid))
		}
	}
	return errors.Join(errs...)
}

// Output returns what the registry printed.
func (r *Registry) Output() string { return r.stderr.String() }

// RegistriesConf writes a registries.conf into dir that marks the proxy (and the registry
// itself) insecure (plain HTTP), and returns its path.
func (r *Registry) RegistriesConf(dir string) (string, error) {
	conf := fmt.Sprintf(`unqualified-search-registries = []

[[registry]]
location = %q
insecure = true

[[registry]]
location = %q
insecure = true
`, r.Host(), r.Addr)
	p := filepath.Join(dir, "registries.conf")
	return p, os.WriteFile(p, []byte(conf), 0o644)
}

// ListeningAddrs returns the local addresses of the TCP sockets in LISTEN state that process
// pid holds, from /proc.
func ListeningAddrs(pid int) ([]string, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue
		}
		if strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			a, err := parseProcAddr(fields[1])
			if err != nil {
				f.Close()
				return nil, err
			}
			addrs = append(addrs, a)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// parseProcAddr parses a /proc/net/tcp address ("0100007F:1F90") into host:port.
func parseProcAddr(s string) (string, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return "", err
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", err
	}
	// Each 32-bit word is in host (little-endian) order.
	ip := make(net.IP, len(raw))
	for i := 0; i+4 <= len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), nil
}

// BlobStats counts the GET requests for one blob and the body bytes served for them.
type BlobStats struct {
	// Requests is the number of GET requests for the blob.
	Requests int
	// Bytes is the number of body bytes served for them.
	Bytes int64
}

// Counter counts requests through the proxy.
type Counter struct {
	mu        sync.Mutex
	blobs     map[digest.Digest]BlobStats
	manifests int
	requests  int
}

func newCounter() *Counter { return &Counter{blobs: map[digest.Digest]BlobStats{}} }

var blobPath = regexp.MustCompile(`^/v2/.+/blobs/(sha256:[0-9a-f]{64})$`)
var manifestPath = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)

// wrap counts requests handled by h.
func (c *Counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, req)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.requests++
		if req.Method != http.MethodGet {
			return
		}
		if m := blobPath.FindStringSubmatch(req.URL.Path); m != nil {
			st := c.blobs[digest.Digest(m[1])]
			st.Requests++
			st.Bytes += cw.n
			c.blobs[digest.Digest(m[1])] = st
		} else if manifestPath.MatchString(req.URL.Path) {
			c.manifests++
		}
	})
}

// Blob returns the counts for blob d.
func (c *Counter) Blob(d digest.Digest) BlobStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blobs[d]
}

// Blobs returns the counts for every blob fetched.
func (c *Counter) Blobs() map[digest.Digest]BlobStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make(map[digest.Digest]BlobStats, len(c.blobs))
	for k, v := range c.blobs {
		res[k] = v
	}
	return res
}

// ManifestGets returns the number of manifest GET requests.
func (c *Counter) ManifestGets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.manifests
}

// Requests returns the number of requests of any kind.
func (c *Counter) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// Reset zeroes the counts.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blobs = map[digest.Digest]BlobStats{}
	c.manifests, c.requests = 0, 0
}

// countingWriter counts body bytes written.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

// Write counts and forwards b.
func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Flush lets the reverse proxy flush through the counting writer.
func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// lockedBuffer is an io.Writer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written.
func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var _ io.Writer = (*lockedBuffer)(nil)
