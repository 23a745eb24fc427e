package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/storage/types"
)

func TestStoreOptionsPrecedence(t *testing.T) {
	conf := types.StoreOptions{
		GraphRoot:          "/var/lib/containers/storage",
		RunRoot:            "/run/containers/storage",
		GraphDriverName:    "overlay",
		GraphDriverOptions: []string{"overlay.mountopt=nodev"},
		ImageStore:         "/images",
	}
	derived := derivedRunRoot("/explicit", 0, "")

	cases := []struct {
		name                     string
		o                        Options
		env                      string
		root, runRoot, driver    string
		driverOpts               []string
		confRoot                 bool
		imageStore               string
		euid                     int
		xdg, wantRunRootContains string
	}{
		{name: "storage.conf", root: conf.GraphRoot, runRoot: conf.RunRoot, driver: "overlay", driverOpts: conf.GraphDriverOptions, confRoot: true, imageStore: "/images"},
		{name: "env", env: "/env-root", root: "/env-root", runRoot: derivedRunRoot("/env-root", 0, ""), driver: "overlay", driverOpts: conf.GraphDriverOptions},
		{name: "option beats env", o: Options{Root: "/explicit"}, env: "/env-root", root: "/explicit", runRoot: derived, driver: "overlay", driverOpts: conf.GraphDriverOptions},
		{name: "explicit run root", o: Options{Root: "/explicit", RunRoot: "/run/x"}, root: "/explicit", runRoot: "/run/x", driver: "overlay", driverOpts: conf.GraphDriverOptions},
		{name: "same root as storage.conf", o: Options{Root: "/var/lib/containers/storage/"}, root: conf.GraphRoot, runRoot: conf.RunRoot, driver: "overlay", driverOpts: conf.GraphDriverOptions, confRoot: true, imageStore: "/images"},
		{name: "other driver drops options", o: Options{Driver: "vfs"}, root: conf.GraphRoot, runRoot: conf.RunRoot, driver: "vfs", confRoot: true, imageStore: "/images"},
		{name: "explicit driver options", o: Options{Driver: "vfs", DriverOptions: []string{"vfs.ignore_chown_errors=true"}}, root: conf.GraphRoot, runRoot: conf.RunRoot, driver: "vfs", driverOpts: []string{"vfs.ignore_chown_errors=true"}, confRoot: true, imageStore: "/images"},
		{name: "rootless derived run root", o: Options{Root: "/explicit"}, euid: 1000, xdg: "/run/user/1000", root: "/explicit", runRoot: derivedRunRoot("/explicit", 1000, "/run/user/1000"), driver: "overlay", driverOpts: conf.GraphDriverOptions, wantRunRootContains: "/run/user/1000/bootc/storage-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, confRoot, err := storeOptions(tc.o, conf, tc.env, tc.euid, tc.xdg)
			if err != nil {
				t.Fatal(err)
			}
			if got.GraphRoot != tc.root || got.RunRoot != tc.runRoot || got.GraphDriverName != tc.driver || !slices.Equal(got.GraphDriverOptions, tc.driverOpts) || confRoot != tc.confRoot || got.ImageStore != tc.imageStore {
				t.Errorf("got root %q run %q driver %q opts %v confRoot %v imagestore %q; want %q %q %q %v %v %q",
					got.GraphRoot, got.RunRoot, got.GraphDriverName, got.GraphDriverOptions, confRoot, got.ImageStore,
					tc.root, tc.runRoot, tc.driver, tc.driverOpts, tc.confRoot, tc.imageStore)
			}
			if tc.wantRunRootContains != "" && !strings.HasPrefix(got.RunRoot, tc.wantRunRootContains) {
				t.Errorf("run root %q, want under %q", got.RunRoot, tc.wantRunRootContains)
			}
		})
	}
	if derivedRunRoot("/a", 0, "") == derivedRunRoot("/b", 0, "") {
		t.Error("two graph roots share a derived run root")
	}
}

func TestOstreeAuthFile(t *testing.T) {
	prefix := t.TempDir()
	if got := ostreeAuthFile(prefix, 0); got != "" {
		t.Errorf("no auth files: got %q", got)
	}
	mk := func(p string) {
		full := prefix + p
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, full, "{}")
	}
	mk("/usr/lib/ostree/auth.json")
	if got := ostreeAuthFile(prefix, 0); got != prefix+"/usr/lib/ostree/auth.json" {
		t.Errorf("got %q", got)
	}
	mk("/etc/ostree/auth.json")
	if got := ostreeAuthFile(prefix, 0); got != prefix+"/etc/ostree/auth.json" {
		t.Errorf("got %q", got)
	}
	mk("/run/ostree/auth.json")
	if got := ostreeAuthFile(prefix, 0); got != prefix+"/run/ostree/auth.json" {
		t.Errorf("got %q, want /run first (as upstream's code does)", got)
	}
	if got := ostreeAuthFile(prefix, 1000); got != "" {
		t.Errorf("non-root uses the ostree auth files: %q", got)
	}
	var s *Store
	if sys := s.systemContext(&PullOptions{AuthFile: "/x/auth.json"}); sys.AuthFilePath != "/x/auth.json" {
		t.Errorf("AuthFile override ignored: %q", sys.AuthFilePath)
	}
	sys := s.systemContext(&PullOptions{RegistriesConf: "/t/registries.conf", Architecture: "arm64"})
	if sys.SystemRegistriesConfPath != "/t/registries.conf" || sys.SystemRegistriesConfDirPath != "/t/registries.conf.d" || sys.ArchitectureChoice != "arm64" || !strings.HasPrefix(sys.DockerRegistryUserAgent, "bootc/") {
		t.Errorf("system context %+v", sys)
	}
}

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy   string
		insecure bool
	}{
		{`{"default":[{"type":"insecureAcceptAnything"}]}`, true},
		{`{"default":[{"type":"insecureAcceptAnything"},{"type":"insecureAcceptAnything"}]}`, true},
		{`{"default":[{"type":"reject"}]}`, false},
		{`{"default":[{"type":"insecureAcceptAnything"},{"type":"reject"}]}`, false},
		{`{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}],"transports":{"docker":{"quay.io":[{"type":"insecureAcceptAnything"}]}}}`, false},
	} {
		p, err := signature.NewPolicyFromBytes([]byte(tc.policy))
		if err != nil {
			t.Fatal(err)
		}
		got, err := policyIsInsecure(p)
		if err != nil || got != tc.insecure {
			t.Errorf("policyIsInsecure(%s) = %v, %v; want %v", tc.policy, got, err, tc.insecure)
		}
	}

	// No policy file anywhere: accept anything, with a warning.
	t.Setenv("CONTAINERS_POLICY_JSON", filepath.Join(t.TempDir(), "absent.json"))
	var logBuf bytes.Buffer
	s := &Store{log: zerolog.New(&logBuf)}
	o := &PullOptions{}
	p, err := s.loadPolicy(o, s.systemContext(o))
	if err != nil {
		t.Fatalf("loadPolicy without a file: %v", err)
	}
	if insecure, _ := policyIsInsecure(p); !insecure {
		t.Error("fallback policy is not insecureAcceptAnything")
	}
	if !strings.Contains(logBuf.String(), `"level":"warn"`) || !strings.Contains(logBuf.String(), "policy") {
		t.Errorf("no warning logged: %q", logBuf.String())
	}
	// ... but a signed pull is refused.
	o.RequireSignedPolicy = true
	o.Source = "docker://quay.io/x/y:1"
	if _, err := s.policyContext(o, s.systemContext(o)); !errors.Is(err, ErrInsecurePolicy) || !strings.Contains(err.Error(), "docker://quay.io/x/y:1") {
		t.Errorf("signed pull with the fallback policy: %v", err)
	}
}

func TestParseCSSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want csSpec
		bad  bool
	}{
		{in: "localhost/x:v1", want: csSpec{name: "localhost/x:v1"}},
		{in: "[overlay@/g+/r:a=1,b=2]localhost/x", want: csSpec{hasStore: true, driver: "overlay", graphRoot: "/g", runRoot: "/r", options: []string{"a=1", "b=2"}, name: "localhost/x"}},
		{in: "[/g]x", want: csSpec{hasStore: true, graphRoot: "/g", name: "x"}},
		{in: "[/g+/r]@0123", want: csSpec{hasStore: true, graphRoot: "/g", runRoot: "/r", name: "@0123"}},
		{in: "[relative]x", bad: true},
		{in: "[/g", bad: true},
		{in: "[@/g]x", bad: true},
	} {
		got, err := parseCSSpec(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseCSSpec(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.hasStore != tc.want.hasStore || got.driver != tc.want.driver || got.graphRoot != tc.want.graphRoot || got.runRoot != tc.want.runRoot || got.name != tc.want.name || !slices.Equal(got.options, tc.want.options) {
			t.Errorf("parseCSSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestDestinationName(t *testing.T) {
	for _, tc := range []struct {
		src, explicit, want string
	}{
		{src: "docker://quay.io/x/y:v1", want: "quay.io/x/y:v1"},
		{src: "docker://quay.io/x/y", want: "quay.io/x/y:latest"},
		{src: "docker://fedora", want: "docker.io/library/fedora:latest"},
		{src: "oci:/a:b", explicit: "localhost/mine", want: "localhost/mine:latest"},
		{src: "oci:/a:b", want: "localhost/bootc/oci:"},
		{src: "dir:/p", want: "localhost/bootc/dir:"},
	} {
		ref, err := alltransports.ParseImageName(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		named, err := destinationName(ref, tc.explicit)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if !strings.HasPrefix(named.String(), tc.want) {
			t.Errorf("destinationName(%s, %q) = %s, want %s...", tc.src, tc.explicit, named, tc.want)
		}
	}
	a, _ := alltransports.ParseImageName("oci:/a:b")
	b, _ := alltransports.ParseImageName("oci:/a:c")
	na, _ := destinationName(a, "")
	nb, _ := destinationName(b, "")
	if na.String() == nb.String() {
		t.Errorf("two sources share the generated name %s", na)
	}
}

func TestClosedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context: %v", err)
	}
}

func TestSameDir(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "var")
	link := filepath.Join(root, "sysroot-var")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{real, link, true},
		{real + "/lib/containers/storage", link + "/lib/containers/storage", true}, // not there yet
		{real + "/lib/containers/storage", link + "/lib/other/storage", false},
		{real, root, false},
	} {
		if got := sameDir(tc.a, tc.b); got != tc.want {
			t.Errorf("sameDir(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestResolveSourceParsed: a reference the caller already parsed (PullOptions.SourceRef) is
// used as it is; the string, then only used in messages, is not parsed again.
func TestResolveSourceParsed(t *testing.T) {
	parsed, err := alltransports.ParseImageName("docker://quay.io/example/os:42")
	if err != nil {
		t.Fatal(err)
	}
	var s *Store
	src, err := s.resolveSource(context.Background(), "not a reference", parsed)
	if err != nil {
		t.Fatalf("resolveSource with a parsed reference: %v", err)
	}
	if got := transports.ImageName(src.ref); got != "docker://quay.io/example/os:42" || src.inPlace {
		t.Errorf("resolveSource = %s (in place: %v), want the parsed reference", got, src.inPlace)
	}
	src, err = s.resolveSource(context.Background(), "docker://quay.io/example/os:43", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := transports.ImageName(src.ref); got != "docker://quay.io/example/os:43" {
		t.Errorf("resolveSource without a parsed reference = %s", got)
	}
	if _, err := s.resolveSource(context.Background(), "not a reference", nil); err == nil {
		t.Error("resolveSource parsed nothing and accepted a bad reference")
	}
}
