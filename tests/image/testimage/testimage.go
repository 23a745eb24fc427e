// Package testimage gives tests the bootable Debian test images built by
// tests/image/build.sh: an OCI image layout with tags v1, v2 and v3 (see
// tests/image/README.md for what each contains).
//
// Build builds them once per set of inputs and reuses them afterwards: the result lives in
// $BOOTC_TEST_IMAGE_DIR/<inputs hash> (default /var/tmp/bootc-test-image/<inputs hash>), and
// the slow part (debootstrap, packages, dracut) is cached separately in base-<hash> there,
// so a new bootc binary costs only the small layers. The first build takes a few minutes.
package testimage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bootc-go/bootc/internal/testskip"
)

// DefaultDir is where images are built when BOOTC_TEST_IMAGE_DIR is unset.
const DefaultDir = "/var/tmp/bootc-test-image"

// Images describes a built set of test images.
type Images struct {
	// Dir is the build's output directory (manifest.env, oci/).
	Dir string
	// Layout is the OCI image layout holding the tags.
	Layout string
	// Tags are the layout's tags: v1, v2, v3.
	Tags []string
	// KVER is the kernel version (usr/lib/modules/$KVER/{vmlinuz,initramfs.img}).
	KVER string
	// Digests maps each tag to its manifest digest ("sha256:...").
	Digests map[string]string
	// BootcBinary is a copy, in Dir, of the bootc binary that is v1's /usr/bin/bootc.
	BootcBinary string
	// BootcSHA256 is the hex SHA-256 of /usr/bin/bootc in the image.
	BootcSHA256 string
	// InputsHash is the hash of everything the images were built from.
	InputsHash string
	// Cached is true when Build found the images already built and built nothing.
	Cached bool
	// Env holds every assignment of manifest.env.
	Env map[string]string
}

// Ref returns the containers/image reference of a tag, "oci:LAYOUT:TAG".
func (im *Images) Ref(tag string) string { return "oci:" + im.Layout + ":" + tag }

// Build builds the test images, or reuses them when their inputs have not changed. The
// bootc binary is $BOOTC_BINARY, or ./cmd/bootc built once per test process. It skips the test when
// the images cannot be built here: -short, not root, host tools missing, the Debian mirror
// of /etc/apt/sources.list* unreachable.
func Build(t testing.TB) *Images {
	t.Helper()
	if testing.Short() {
		testskip.Skip(t, "short", "testimage: building the bootable test image takes minutes; skipped with -short")
	}
	if os.Geteuid() != 0 {
		testskip.Skip(t, "root", "testimage: building the bootable test image needs root (debootstrap, chroot, podman)")
	}
	here, err := imageDir()
	if err != nil {
		t.Fatalf("testimage: %v", err)
	}
	script := filepath.Join(here, "build.sh")

	bin := os.Getenv("BOOTC_BINARY")
	if bin == "" {
		// One bootc per test process: the tree may change while the tests run (and a
		// second build would be a second image).
		builtMu.Lock()
		bin = builtBootc
		builtMu.Unlock()
		if _, err := os.Stat(bin); bin == "" || err != nil {
			bin = buildBootc(t, filepath.Dir(filepath.Dir(here)))
		}
	} else if _, err := os.Stat(bin); err != nil {
		t.Fatalf("testimage: BOOTC_BINARY: %v", err)
	}
	remember := func(im *Images) *Images {
		if os.Getenv("BOOTC_BINARY") == "" {
			builtMu.Lock()
			builtBootc = im.BootcBinary
			builtMu.Unlock()
		}
		return im
	}

	root := os.Getenv("BOOTC_TEST_IMAGE_DIR")
	if root == "" {
		root = DefaultDir
	}
	out, err := exec.Command("bash", script, "--inputs-hash", bin).Output()
	if err != nil {
		t.Fatalf("testimage: %s --inputs-hash: %v", script, exitDetail(err))
	}
	hash := strings.TrimSpace(string(out))
	if len(hash) < 16 {
		t.Fatalf("testimage: %s --inputs-hash printed %q", script, hash)
	}
	dir := filepath.Join(root, hash[:16])

	reuse := func() *Images {
		im, err := load(dir, hash)
		if err != nil {
			return nil
		}
		now := time.Now()
		_ = os.Chtimes(filepath.Join(dir, ".inputs-hash"), now, now) // in use: not pruned
		im.Cached = true
		return im
	}
	if im := reuse(); im != nil {
		return remember(im)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if im := reuse(); im != nil { // built meanwhile by another test of this process
		return remember(im)
	}
	start := time.Now()
	t.Logf("testimage: building the bootable test images into %s (the first build takes a few minutes)", dir)
	cmd := exec.Command("bash", script, dir, bin)
	cmd.Env = append(os.Environ(), "BOOTC_TEST_IMAGE_CACHE="+root)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("testimage: %s: %v", script, err)
	}
	var lines []string
	cacheHit, skipMsg := false, ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		switch {
		case strings.HasPrefix(line, "build.sh: cannot build here: "):
			skipMsg = strings.TrimPrefix(line, "build.sh: ")
		case strings.HasPrefix(line, "build.sh: cache hit"):
			cacheHit = true
		}
		if strings.HasPrefix(line, "build.sh: ") || strings.HasPrefix(line, "mkbase.sh: ") {
			t.Log(line)
		}
	}
	_, _ = io.Copy(io.Discard, r) // whatever the scanner left (an overlong line)
	r.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 77 {
		if skipMsg == "" && len(lines) > 0 {
			skipMsg = lines[len(lines)-1]
		}
		testskip.Skipf(t, "testimage", "testimage: %s", skipMsg)
	}
	if err != nil {
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		t.Fatalf("testimage: %s %s %s: %v\n%s", script, dir, bin, err, strings.Join(lines, "\n"))
	}
	im, err := load(dir, hash)
	if err != nil {
		t.Fatalf("testimage: after building: %v", err)
	}
	im.Cached = cacheHit
	if !cacheHit {
		t.Logf("testimage: built in %s", time.Since(start).Round(time.Second))
	}
	prune(root, dir)
	return remember(im)
}

var (
	// buildMu serializes builds within one process (build.sh also locks across processes).
	buildMu sync.Mutex
	// builtBootc is the copy in the image directory of the bootc this process built.
	builtMu    sync.Mutex
	builtBootc string
)

// imageDir finds tests/image from this source file, or from the working directory upwards.
func imageDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Dir(filepath.Dir(file))
		if _, err := os.Stat(filepath.Join(d, "build.sh")); err == nil {
			return d, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			bytes.Contains(b, []byte("module github.com/bootc-go/bootc\n")) {
			return filepath.Join(d, "tests", "image"), nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("tests/image/build.sh not found from %s", wd)
		}
	}
}

// buildBootc builds ./cmd/bootc into a temporary directory of the test. Go builds are
// reproducible, so an unchanged tree gives the same binary and the same inputs hash.
func buildBootc(t testing.TB, repo string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootc")
	cmd := exec.Command("go", "build", "-tags", "containers_image_openpgp exclude_graphdriver_btrfs",
		"-o", bin, "./cmd/bootc")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testimage: go build ./cmd/bootc: %v\n%s", err, out)
	}
	return bin
}

// load reads a finished build: .inputs-hash (written last) must equal hash.
func load(dir, hash string) (*Images, error) {
	b, err := os.ReadFile(filepath.Join(dir, ".inputs-hash"))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(b)) != hash {
		return nil, fmt.Errorf("%s: built from other inputs", dir)
	}
	env, err := readEnv(filepath.Join(dir, "manifest.env"))
	if err != nil {
		return nil, err
	}
	im := &Images{
		Dir:         dir,
		Layout:      env["OCI_LAYOUT"],
		Tags:        strings.Fields(env["TAGS"]),
		KVER:        env["KVER"],
		Digests:     map[string]string{},
		BootcBinary: env["BOOTC_BINARY"],
		BootcSHA256: env["BOOTC_SHA256"],
		InputsHash:  hash,
		Env:         env,
	}
	for _, tag := range im.Tags {
		im.Digests[tag] = env[strings.ToUpper(tag)+"_DIGEST"]
	}
	if im.Layout == "" || im.KVER == "" || len(im.Tags) == 0 || im.BootcBinary == "" {
		return nil, fmt.Errorf("%s/manifest.env is incomplete", dir)
	}
	for _, f := range []string{filepath.Join(im.Layout, "index.json"), im.BootcBinary} {
		if _, err := os.Stat(f); err != nil {
			return nil, err
		}
	}
	return im, nil
}

// readEnv parses the KEY=VALUE lines of manifest.env (values optionally double-quoted).
func readEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		env[k] = strings.Trim(v, `"`)
	}
	return env, nil
}

// prune removes other builds under root not used for two weeks (they are small: the base
// layer is a hard link into the base cache).
func prune(root, keep string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		d := filepath.Join(root, e.Name())
		if !e.IsDir() || d == keep || len(e.Name()) != 16 {
			continue
		}
		fi, err := os.Stat(filepath.Join(d, ".inputs-hash"))
		if err == nil && time.Since(fi.ModTime()) > 14*24*time.Hour {
			os.RemoveAll(d)
		}
	}
}

func exitDetail(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err.Error()
}
