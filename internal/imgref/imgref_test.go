package imgref

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.podman.io/image/v5/docker/reference"
)

const (
	hex64  = "5db6d8b5f34d3cbdaa1e82ed0152a5ac980076d19317d4269db149cbde057bb2"
	digest = "sha256:" + hex64
)

func TestParseTransport(t *testing.T) {
	good := map[string]Transport{
		"registry":            TransportRegistry,
		"registry:":           TransportRegistry,
		"docker://":           TransportRegistry,
		"oci":                 TransportOCI,
		"oci:":                TransportOCI,
		"oci-archive":         TransportOCIArchive,
		"oci-archive:":        TransportOCIArchive,
		"containers-storage":  TransportContainersStorage,
		"containers-storage:": TransportContainersStorage,
		"dir":                 TransportDir,
		"dir:":                TransportDir,
		"docker-archive":      TransportDockerArchive,
		"docker-archive:":     TransportDockerArchive,
		"docker-daemon":       TransportDockerDaemon,
		"docker-daemon:":      TransportDockerDaemon,
	}
	for in, want := range good {
		got, err := ParseTransport(in)
		if err != nil || got != want {
			t.Errorf("ParseTransport(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "foo", "docker", "docker:", "docker:/", "Registry", "oci::", "registry::", "oci:/path", ":"} {
		_, err := ParseTransport(in)
		if !errors.Is(err, ErrUnknownTransport) {
			t.Errorf("ParseTransport(%q) error = %v; want ErrUnknownTransport", in, err)
		}
	}
	if _, err := ParseTransport("foo"); err == nil || err.Error() != `unknown transport "foo"` {
		t.Errorf("ParseTransport(foo) error text = %v", err)
	}
}

func TestTransportNames(t *testing.T) {
	prefixes := map[Transport]string{
		TransportRegistry:          "docker://",
		TransportOCI:               "oci:",
		TransportOCIArchive:        "oci-archive:",
		TransportContainersStorage: "containers-storage:",
		TransportDir:               "dir:",
		TransportDockerArchive:     "docker-archive:",
		TransportDockerDaemon:      "docker-daemon:",
	}
	all := allTransports[:]
	if len(all) != len(prefixes) {
		t.Fatalf("transports = %v", all)
	}
	for _, tr := range all {
		if got := tr.Prefix(); got != prefixes[tr] {
			t.Errorf("%s.Prefix() = %q; want %q", tr, got, prefixes[tr])
		}
		// Both spellings parse back.
		for _, s := range []string{tr.String(), tr.Prefix()} {
			if got, err := ParseTransport(s); err != nil || got != tr {
				t.Errorf("ParseTransport(%q) = %q, %v", s, got, err)
			}
		}
	}
	if Transport("").Valid() || Transport("docker").Prefix() != "" {
		t.Error("invalid transports must not be valid")
	}
}

func TestParseImageReference(t *testing.T) {
	cases := []struct {
		in        string
		transport Transport
		name      string
		str       string // String(); "" means same as in
	}{
		// Upstream containers-image-proxy / ostree-ext cases.
		{"registry:quay.io/exampleos/blah", TransportRegistry, "quay.io/exampleos/blah", "docker://quay.io/exampleos/blah"},
		{"containers-storage:localhost/someimage", TransportContainersStorage, "localhost/someimage", ""},
		{"docker://quay.io/exampleos/blah:sometag", TransportRegistry, "quay.io/exampleos/blah:sometag", ""},
		{"oci:somedir", TransportOCI, "somedir", ""},
		{"dir:/some/dir/blah", TransportDir, "/some/dir/blah", ""},
		{"oci-archive:/path/to/foo.ociarchive", TransportOCIArchive, "/path/to/foo.ociarchive", ""},
		{"docker-archive:/path/to/foo.dockerarchive", TransportDockerArchive, "/path/to/foo.dockerarchive", ""},
		{"containers-storage:localhost/someimage:blah", TransportContainersStorage, "localhost/someimage:blah", ""},
		{"docker-daemon:myimage:tag", TransportDockerDaemon, "myimage:tag", ""},
		// More forms.
		{"docker://quay.io/x:1", TransportRegistry, "quay.io/x:1", ""},
		{"docker://quay.io/fedora/fedora-bootc:42", TransportRegistry, "quay.io/fedora/fedora-bootc:42", ""},
		{"docker://localhost:5000/foo/bar@" + digest, TransportRegistry, "localhost:5000/foo/bar@" + digest, ""},
		{"docker://127.0.0.1:5000/x:v1", TransportRegistry, "127.0.0.1:5000/x:v1", ""},
		{"registry:fedora", TransportRegistry, "fedora", "docker://fedora"},
		{"oci:/srv/layout:tag", TransportOCI, "/srv/layout:tag", ""},
		{"oci:/srv/layout", TransportOCI, "/srv/layout", ""},
		{"oci-archive:/tmp/a.tar:v1", TransportOCIArchive, "/tmp/a.tar:v1", ""},
		{"docker-archive:/tmp/a.tar:quay.io/x:1", TransportDockerArchive, "/tmp/a.tar:quay.io/x:1", ""},
		{"docker-archive:/tmp/a.tar:@0", TransportDockerArchive, "/tmp/a.tar:@0", ""},
		{"containers-storage:[overlay@/var/lib/containers/storage]localhost/bootc", TransportContainersStorage, "[overlay@/var/lib/containers/storage]localhost/bootc", ""},
		{"containers-storage:sha256:" + hex64, TransportContainersStorage, "sha256:" + hex64, ""},
		{"containers-storage:" + hex64, TransportContainersStorage, hex64, ""},
		{"docker-daemon:" + digest, TransportDockerDaemon, digest, ""},
		{"dir:relative/dir", TransportDir, "relative/dir", ""},
		{"oci:/srv/ümlaut", TransportOCI, "/srv/ümlaut", ""},
	}
	for _, c := range cases {
		r, err := ParseImageReference(c.in)
		if err != nil {
			t.Errorf("ParseImageReference(%q): %v", c.in, err)
			continue
		}
		if r.Transport != c.transport || r.Name != c.name {
			t.Errorf("ParseImageReference(%q) = %#v; want {%s %s}", c.in, r, c.transport, c.name)
		}
		want := c.str
		if want == "" {
			want = c.in
		}
		if got := r.String(); got != want {
			t.Errorf("ParseImageReference(%q).String() = %q; want %q", c.in, got, want)
		}
		if got := r.ContainersImageName(); got != want {
			t.Errorf("ContainersImageName() = %q; want %q", got, want)
		}
		again, err := ParseImageReference(r.String())
		if err != nil || again != r {
			t.Errorf("round trip of %q: %#v, %v", c.in, again, err)
		}
	}
}

func TestParseImageReferenceErrors(t *testing.T) {
	cases := []struct {
		in      string
		unknown bool // wraps ErrUnknownTransport
		msg     string
	}{
		// Upstream INVALID_IRS.
		{"", false, "missing transport prefix"},
		{"foo://", true, `unknown transport "foo"`},
		{"docker:blah", false, `missing "//"`},
		{"registry:", false, "empty image name"},
		{"foo:bar", true, `unknown transport "foo"`},
		// More.
		{"quay.io/x", false, "missing transport prefix"},
		{"docker://", false, "empty image name"},
		{"docker:///quay.io/x", false, "not a valid registry reference"},
		{"docker://Quay.io/UPPER", false, "must be lowercase"},
		{"docker://foo::bar", false, "invalid reference format"},
		{"docker://foo@sha256:short", false, "64 lowercase hex"},
		{"docker://quay.io/x y", false, "white space"},
		{"docker://quay.io/x\t", false, "white space"},
		{"oci:/path\x00", false, "control character"},
		{"oci:/path\xff", false, "UTF-8"},
		{"oci:", false, "empty image name"},
		{"oci::tag", false, "empty path"},
		{"oci-archive::tag", false, "empty path"},
		{"docker-archive::quay.io/x:1", false, "empty path"},
		{"dir:", false, "empty image name"},
		{"containers-storage:", false, "empty image name"},
		{"containers-storage:[overlay@/x", false, "unterminated"},
		{"containers-storage:[overlay@/x]", false, "missing image"},
		{"docker-daemon:Upper/Case", false, "not a valid docker-daemon reference"},
		{"OCI:/x", true, `unknown transport "OCI"`},
	}
	for _, c := range cases {
		_, err := ParseImageReference(c.in)
		if err == nil {
			t.Errorf("ParseImageReference(%q) succeeded", c.in)
			continue
		}
		if !errors.Is(err, ErrInvalidReference) {
			t.Errorf("ParseImageReference(%q) error %v does not wrap ErrInvalidReference", c.in, err)
		}
		if errors.Is(err, ErrUnknownTransport) != c.unknown {
			t.Errorf("ParseImageReference(%q) error %v: ErrUnknownTransport = %v", c.in, err, !c.unknown)
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseImageReference(%q) error %q does not contain %q", c.in, err, c.msg)
		}
	}
}

func TestNewImageReference(t *testing.T) {
	if _, err := NewImageReference(TransportRegistry, "quay.io/x"); err != nil {
		t.Error(err)
	}
	if _, err := NewImageReference("", "quay.io/x"); !errors.Is(err, ErrUnknownTransport) {
		t.Errorf("empty transport: %v", err)
	}
	if _, err := NewImageReference(TransportRegistry, ""); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("empty name: %v", err)
	}
}

// TestRegistryNames checks registry names against containers/image's own parser, the one
// its docker:// transport pulls with: Validate accepts exactly the names
// reference.ParseNormalizedNamed accepts.
func TestRegistryNames(t *testing.T) {
	good := []string{
		"quay.io/fedora/fedora-bootc:42",
		"localhost:5000/foo/bar@" + digest,
		"127.0.0.1:5000/x:v1",
		"fedora",
		"fedora:42",
		"library/fedora",
		"localhost/bootc",
		"localhost:5000",
		"Quay.io/x",
		"quay.io/a.b/c_d/e__f/g---h/i-j",
		"quay.io/x:latest@" + digest,
		"quay.io/x:_A.b-c",
		"quay.io/x@sha512:" + strings.Repeat("ab", 64),
		"quay.io/x@sha384:" + strings.Repeat("0", 96),
		"a-b.example.com:443/x",
		"x:" + strings.Repeat("t", 128),
	}
	bad := []string{
		"",
		"Quay.io/UPPER",
		"quay.io/Fedora",
		"UPPER",
		"foo::bar",
		"foo@sha256:short",
		"foo@sha256:" + strings.ToUpper(hex64),
		"foo@md5:" + hex64,
		"foo@" + hex64,
		"foo@",
		"foo:",
		":tag",
		"@" + digest,
		"/foo",
		"foo/",
		"foo//bar",
		"quay.io/",
		"quay.io:/x",
		"quay.io:port/x",
		"-quay.io/x",
		"quay-.io/x",
		"quay..io/x",
		"[::1/x",
		"[]/x",
		"[::1]x/y",
		"[::1]:/y",
		"[zz]/y",
		"foo/-bar",
		"foo/bar-",
		"foo/bar.",
		"foo/a..b",
		"foo/a._b",
		"foo/a___b",
		"foo/a-.b",
		"foo bar",
		"foo:-tag",
		"foo:.tag",
		"foo:ta/g",
		"x:" + strings.Repeat("t", 129),
		hex64,
		"quay.io/" + strings.Repeat("a", 248),
		"quay.io/x@sha256:" + hex64 + "@sha256:" + hex64,
		"ünïcode",
		// containers/image's grammar has no IPv6 domains: such a name cannot be pulled.
		"[::1]:5000/foo:bar",
		"[fe80::1]/foo",
		// An upper-case first component without "." or ":" is a path component for
		// containers/image, which refuses it.
		"UPPERHOST/x",
	}
	for _, in := range good {
		if err := img(TransportRegistry, in).Validate(); err != nil {
			t.Errorf("Validate(%q): %v", in, err)
		}
		if _, err := reference.ParseNormalizedNamed(in); err != nil {
			t.Errorf("containers/image refuses %q: %v", in, err)
		}
	}
	for _, in := range bad {
		if err := img(TransportRegistry, in).Validate(); err == nil {
			t.Errorf("Validate(%q) succeeded", in)
		} else if !errors.Is(err, ErrInvalidReference) {
			t.Errorf("Validate(%q) error %v does not wrap ErrInvalidReference", in, err)
		}
		if _, err := reference.ParseNormalizedNamed(in); err == nil {
			t.Errorf("containers/image accepts %q", in)
		}
	}
	// 255 characters is the limit for domain plus path.
	if err := img(TransportRegistry, "quay.io/"+strings.Repeat("a", 247)).Validate(); err != nil {
		t.Errorf("255-character name: %v", err)
	}
}

func TestValidateHelpers(t *testing.T) {
	for _, tag := range []string{"latest", "42", "v1.2-rc_3", "_x"} {
		if err := validateTag(tag); err != nil {
			t.Errorf("validateTag(%q) = %v", tag, err)
		}
	}
	for _, tag := range []string{"", ".x", "-x", "a/b", "a:b", "a@b", "é"} {
		if err := validateTag(tag); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("validateTag(%q) = %v", tag, err)
		}
	}
	for _, r := range []string{"fedora", "my-remote", "a.b_c", "X1"} {
		if err := ValidateRemoteName(r); err != nil {
			t.Errorf("ValidateRemoteName(%q) = %v", r, err)
		}
	}
	for _, r := range []string{"", "a:b", "a/b", "a b", "é"} {
		if err := ValidateRemoteName(r); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("ValidateRemoteName(%q) = %v", r, err)
		}
	}
}

func img(t Transport, name string) ImageReference { return ImageReference{Transport: t, Name: name} }

func TestParseOstree(t *testing.T) {
	cases := []struct {
		in   string
		want OstreeImageReference
		str  string // String(); "" means same as in
	}{
		// Upstream ostree-ext test_ostreeimagereference.
		{"ostree-remote-image:myremote:registry:quay.io/exampleos/blah",
			OstreeImageReference{OstreeRemote("myremote"), img(TransportRegistry, "quay.io/exampleos/blah")},
			"ostree-remote-image:myremote:docker://quay.io/exampleos/blah"},
		{"ostree-remote-registry:myremote:quay.io/exampleos/blah",
			OstreeImageReference{OstreeRemote("myremote"), img(TransportRegistry, "quay.io/exampleos/blah")},
			"ostree-remote-image:myremote:docker://quay.io/exampleos/blah"},
		{"ostree-image-signed:docker://quay.io/exampleos/blah",
			OstreeImageReference{ContainerPolicy(), img(TransportRegistry, "quay.io/exampleos/blah")}, ""},
		{"ostree-unverified-image:docker://quay.io/exampleos/blah",
			OstreeImageReference{Insecure(), img(TransportRegistry, "quay.io/exampleos/blah")},
			"ostree-unverified-registry:quay.io/exampleos/blah"},
		{"ostree-unverified-registry:quay.io/exampleos/blah",
			OstreeImageReference{Insecure(), img(TransportRegistry, "quay.io/exampleos/blah")}, ""},
		// bootc test_display_imgref.
		{"ostree-unverified-registry:quay.io/example/foo:sometag",
			OstreeImageReference{Insecure(), img(TransportRegistry, "quay.io/example/foo:sometag")}, ""},
		{"ostree-remote-image:fedora:docker://quay.io/example/foo:sometag",
			OstreeImageReference{OstreeRemote("fedora"), img(TransportRegistry, "quay.io/example/foo:sometag")}, ""},
		// Every transport.
		{"ostree-unverified-image:registry:quay.io/x",
			OstreeImageReference{Insecure(), img(TransportRegistry, "quay.io/x")},
			"ostree-unverified-registry:quay.io/x"},
		{"ostree-unverified-image:oci:/srv/layout:tag",
			OstreeImageReference{Insecure(), img(TransportOCI, "/srv/layout:tag")}, ""},
		{"ostree-unverified-image:oci-archive:/tmp/x.tar",
			OstreeImageReference{Insecure(), img(TransportOCIArchive, "/tmp/x.tar")}, ""},
		{"ostree-unverified-image:containers-storage:localhost/bootc",
			OstreeImageReference{Insecure(), img(TransportContainersStorage, "localhost/bootc")}, ""},
		{"ostree-unverified-image:dir:/var/tmp/img",
			OstreeImageReference{Insecure(), img(TransportDir, "/var/tmp/img")}, ""},
		{"ostree-unverified-image:docker-archive:/tmp/x.tar",
			OstreeImageReference{Insecure(), img(TransportDockerArchive, "/tmp/x.tar")}, ""},
		{"ostree-unverified-image:docker-daemon:myimage:tag",
			OstreeImageReference{Insecure(), img(TransportDockerDaemon, "myimage:tag")}, ""},
		{"ostree-image-signed:docker://quay.io/x",
			OstreeImageReference{ContainerPolicy(), img(TransportRegistry, "quay.io/x")}, ""},
		{"ostree-image-signed:registry:quay.io/x@" + digest,
			OstreeImageReference{ContainerPolicy(), img(TransportRegistry, "quay.io/x@"+digest)},
			"ostree-image-signed:docker://quay.io/x@" + digest},
		{"ostree-image-signed:containers-storage:localhost/bootc",
			OstreeImageReference{ContainerPolicy(), img(TransportContainersStorage, "localhost/bootc")}, ""},
		{"ostree-remote-image:r:oci:/srv/layout",
			OstreeImageReference{OstreeRemote("r"), img(TransportOCI, "/srv/layout")}, ""},
		{"ostree-remote-registry:fedora:quay.io/fedora/fedora-bootc:latest",
			OstreeImageReference{OstreeRemote("fedora"), img(TransportRegistry, "quay.io/fedora/fedora-bootc:latest")},
			"ostree-remote-image:fedora:docker://quay.io/fedora/fedora-bootc:latest"},
		{"ostree-unverified-registry:localhost:5000/foo/bar@" + digest,
			OstreeImageReference{Insecure(), img(TransportRegistry, "localhost:5000/foo/bar@"+digest)}, ""},
	}
	for _, c := range cases {
		r, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if r != c.want {
			t.Errorf("Parse(%q) = %#v; want %#v", c.in, r, c.want)
		}
		want := c.str
		if want == "" {
			want = c.in
		}
		if got := r.String(); got != want {
			t.Errorf("Parse(%q).String() = %q; want %q", c.in, got, want)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("Parse(%q).Validate() = %v", c.in, err)
		}
		again, err := Parse(r.String())
		if err != nil || again != r {
			t.Errorf("round trip of %q: %#v, %v", c.in, again, err)
		}
	}
}

func TestParseOstreeErrors(t *testing.T) {
	cases := []struct {
		in     string
		target error // wrapped besides ErrInvalidReference, or nil
		msg    string
	}{
		{"", nil, "missing"},
		{"quay.io/x", nil, "missing"},
		{"docker://quay.io/x", ErrUnknownScheme, `unknown ostree image reference scheme "docker"`},
		{"ostree-unverified:quay.io/x", ErrUnknownScheme, "ostree-unverified"},
		{"ostree-unverified-registry:", nil, "empty image name"},
		{"ostree-unverified-registry:docker://quay.io/x", nil, "not a valid registry reference"},
		{"ostree-unverified-registry:Quay.io/UPPER", nil, "lowercase"},
		{"ostree-unverified-image:quay.io/x", nil, "missing transport prefix"},
		{"ostree-unverified-image:quay.io/x:1", ErrUnknownTransport, `unknown transport "quay.io/x"`},
		{"ostree-unverified-image:foo:bar", ErrUnknownTransport, `unknown transport "foo"`},
		{"ostree-unverified-image:docker:quay.io/x", nil, `missing "//"`},
		{"ostree-unverified-image:oci:", nil, "empty image name"},
		{"ostree-unverified-image:oci::tag", nil, "empty path"},
		{"ostree-image-signed:", nil, "missing transport prefix"},
		{"ostree-image-signed:registry:foo@sha256:short", nil, "64 lowercase hex"},
		{"ostree-remote-image:myremote", nil, "after the ostree remote name"},
		{"ostree-remote-image::docker://quay.io/x", nil, "empty ostree remote name"},
		{"ostree-remote-image:my remote:docker://quay.io/x", nil, "invalid character"},
		{"ostree-remote-image:r:quay.io/x", nil, "missing transport prefix"},
		{"ostree-remote-image:r:localhost:5000/x", ErrUnknownTransport, `unknown transport "localhost"`},
		{"ostree-remote-registry:r", nil, "after the ostree remote name"},
		{"ostree-remote-registry:r:", nil, "empty image name"},
		{"ostree-remote-registry:r:docker://quay.io/x", nil, "not a valid registry reference"},
		{"ostree-unverified-registry:quay.io/x\n", nil, "white space"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", c.in)
			continue
		}
		if !errors.Is(err, ErrInvalidReference) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalidReference", c.in, err)
		}
		if c.target != nil && !errors.Is(err, c.target) {
			t.Errorf("Parse(%q) error %v does not wrap %v", c.in, err, c.target)
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Parse(%q) error %q does not contain %q", c.in, err, c.msg)
		}
	}
}

func TestSignatureVerify(t *testing.T) {
	cases := []struct {
		s    SignatureVerify
		text string
	}{
		{Insecure(), "ostree-unverified-image"},
		{ContainerPolicy(), "ostree-image-signed"},
		{OstreeRemote("fedora"), "ostree-remote-image:fedora"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.text {
			t.Errorf("%#v.String() = %q; want %q", c.s, got, c.text)
		}
	}
	for _, s := range []SignatureVerify{{}, {Kind: SigVerifyInsecure, Remote: "x"}, {Kind: SigVerifyOstreeRemote}, {Kind: 9}} {
		if err := s.Validate(); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("%#v.Validate() = %v", s, err)
		}
	}
	if SigVerifyContainerPolicy.String() != "container-policy" {
		t.Error(SigVerifyContainerPolicy.String())
	}
}

func TestFromCLI(t *testing.T) {
	cases := []struct {
		name, transport string
		enforce         bool
		want            string
	}{
		{"quay.io/fedora/fedora-bootc:42", "registry", false, "ostree-unverified-registry:quay.io/fedora/fedora-bootc:42"},
		{"quay.io/fedora/fedora-bootc:42", "", false, "ostree-unverified-registry:quay.io/fedora/fedora-bootc:42"},
		{"quay.io/fedora/fedora-bootc:42", "registry", true, "ostree-image-signed:docker://quay.io/fedora/fedora-bootc:42"},
		{"quay.io/x", "docker://", false, "ostree-unverified-registry:quay.io/x"},
		{"localhost/bootc", "containers-storage", false, "ostree-unverified-image:containers-storage:localhost/bootc"},
		{"localhost/bootc", "containers-storage", true, "ostree-image-signed:containers-storage:localhost/bootc"},
		{"/var/tmp/bootc-oci", "oci", false, "ostree-unverified-image:oci:/var/tmp/bootc-oci"},
		{"/srv/layout:tag", "oci:", false, "ostree-unverified-image:oci:/srv/layout:tag"},
		{"/tmp/x.ociarchive", "oci-archive", false, "ostree-unverified-image:oci-archive:/tmp/x.ociarchive"},
		{"/tmp/d", "dir", true, "ostree-image-signed:dir:/tmp/d"},
		{"/tmp/x.tar", "docker-archive", false, "ostree-unverified-image:docker-archive:/tmp/x.tar"},
		{"myimage:tag", "docker-daemon", false, "ostree-unverified-image:docker-daemon:myimage:tag"},
		// Full references are taken as they are.
		{"ostree-remote-registry:fedora:quay.io/x", "registry", false, "ostree-remote-image:fedora:docker://quay.io/x"},
		{"ostree-remote-registry:fedora:quay.io/x", "", true, "ostree-remote-image:fedora:docker://quay.io/x"},
		{"ostree-image-signed:oci:/srv/l", "registry", true, "ostree-image-signed:oci:/srv/l"},
		{"ostree-unverified-image:containers-storage:localhost/x", "", false, "ostree-unverified-image:containers-storage:localhost/x"},
	}
	for _, c := range cases {
		r, err := FromCLI(c.name, c.transport, c.enforce)
		if err != nil {
			t.Errorf("FromCLI(%q, %q, %v): %v", c.name, c.transport, c.enforce, err)
			continue
		}
		if got := r.String(); got != c.want {
			t.Errorf("FromCLI(%q, %q, %v) = %q; want %q", c.name, c.transport, c.enforce, got, c.want)
		}
	}
	bad := []struct {
		name, transport string
		enforce         bool
		target          error
	}{
		{"", "registry", false, ErrInvalidReference},
		{"quay.io/x", "foo", false, ErrUnknownTransport},
		{"quay.io/x", "docker", false, ErrUnknownTransport},
		{"Quay.io/UPPER", "registry", false, ErrInvalidReference},
		{"docker://quay.io/x", "registry", false, ErrInvalidReference},
		{"quay.io/x ", "registry", false, ErrInvalidReference},
		{":tag", "oci", false, ErrInvalidReference},
		{"ostree-unverified-registry:quay.io/x", "oci", false, ErrInvalidReference},
		{"ostree-unverified-registry:quay.io/x", "registry", true, ErrInvalidReference},
		{"ostree-bogus-scheme:quay.io/x", "registry", false, ErrInvalidReference},
		{"ostree-remote-registry::quay.io/x", "registry", false, ErrInvalidReference},
	}
	for _, c := range bad {
		if r, err := FromCLI(c.name, c.transport, c.enforce); !errors.Is(err, c.target) {
			t.Errorf("FromCLI(%q, %q, %v) = %v, %v; want %v", c.name, c.transport, c.enforce, r, err, c.target)
		}
	}
}

func TestCanonicalize(t *testing.T) {
	// Upstream bootc test_image_reference_canonicalize.
	cases := []struct {
		in        string
		want      string
		transport Transport
	}{
		{"quay.io/example/someimage:latest@" + digest, "quay.io/example/someimage@" + digest, TransportRegistry},
		{"quay.io/example/someimage@" + digest, "quay.io/example/someimage@" + digest, TransportRegistry},
		{"quay.io/example/someimage:latest", "quay.io/example/someimage:latest", TransportRegistry},
		{"quay.io/example/someimage", "quay.io/example/someimage", TransportRegistry},
		{"localhost/someimage:latest", "localhost/someimage:latest", TransportRegistry},
		{"localhost/someimage:latest@" + digest, "localhost/someimage@" + digest, TransportRegistry},
		{"localhost:5000/a/b:1@" + digest, "localhost:5000/a/b@" + digest, TransportRegistry},
		{"quay.io/example/someimage:latest@" + digest, "quay.io/example/someimage:latest@" + digest, TransportContainersStorage},
		{"/path/to/dir:latest", "/path/to/dir:latest", TransportOCI},
		{"/tmp/repo", "/tmp/repo", TransportOCIArchive},
		{"/tmp/image-dir", "/tmp/image-dir", TransportDir},
		{"path/to/image:sometag@" + digest, "path/to/image:sometag@" + digest, TransportOCI},
	}
	for _, c := range cases {
		in := img(c.transport, c.in)
		got, err := in.Canonicalize()
		if err != nil {
			t.Errorf("Canonicalize(%v): %v", in, err)
			continue
		}
		if want := img(c.transport, c.want); got != want {
			t.Errorf("Canonicalize(%v) = %v; want %v", in, got, want)
		}
		o := OstreeImageReference{Sigverify: ContainerPolicy(), Imgref: in}
		og, err := o.Canonicalize()
		if err != nil || og.Imgref != got || og.Sigverify != o.Sigverify {
			t.Errorf("OstreeImageReference.Canonicalize(%v) = %v, %v", o, og, err)
		}
	}
	if _, err := img(TransportRegistry, "Bad/Name").Canonicalize(); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("Canonicalize of invalid registry name: %v", err)
	}
}

func TestWithTag(t *testing.T) {
	cases := []struct {
		in, tag, want string
	}{
		// Upstream bootc test_image_reference_with_tag.
		{"registry:quay.io/example/myapp:v1.0", "v1.1", "docker://quay.io/example/myapp:v1.1"},
		{"registry:quay.io/example/myapp:v1.0@" + digest, "v2.0", "docker://quay.io/example/myapp:v2.0"},
		{"containers-storage:localhost/myapp:v1.0", "v1.1", "containers-storage:localhost/myapp:v1.1"},
		{"containers-storage:localhost/myapp:v1.0@" + digest, "v2.0", "containers-storage:localhost/myapp:v2.0"},
		{"containers-storage:localhost/myapp", "v1.0", "containers-storage:localhost/myapp:v1.0"},
		// More.
		{"docker://quay.io/x@" + digest, "42", "docker://quay.io/x:42"},
		{"docker://localhost:5000/x", "v1", "docker://localhost:5000/x:v1"},
		{"docker://fedora:41", "42", "docker://fedora:42"},
		{"containers-storage:[overlay@/var/lib/containers/storage]localhost/x:1", "2", "containers-storage:[overlay@/var/lib/containers/storage]localhost/x:2"},
		{"containers-storage:localhost/x@" + hex64, "2", "containers-storage:localhost/x:2"},
		{"docker-daemon:myimage:tag", "new", "docker-daemon:myimage:new"},
		{"oci:/srv/layout", "v2", "oci:/srv/layout:v2"},
		{"oci:/srv/layout:v1", "v2", "oci:/srv/layout:v2"},
		{"oci-archive:/tmp/x.tar:v1", "v2", "oci-archive:/tmp/x.tar:v2"},
	}
	for _, c := range cases {
		r, err := ParseImageReference(c.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.WithTag(c.tag)
		if err != nil {
			t.Errorf("%v.WithTag(%q): %v", r, c.tag, err)
			continue
		}
		if got.String() != c.want {
			t.Errorf("%v.WithTag(%q) = %v; want %s", r, c.tag, got, c.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%v.WithTag(%q) is invalid: %v", r, c.tag, err)
		}
		o := OstreeImageReference{Sigverify: OstreeRemote("r"), Imgref: r}
		og, err := o.WithTag(c.tag)
		if err != nil || og.Imgref != got || og.Sigverify != o.Sigverify {
			t.Errorf("OstreeImageReference.WithTag: %v, %v", og, err)
		}
	}
	bad := []struct {
		in, tag string
		target  error
	}{
		{"dir:/tmp/d", "v1", ErrTagNotSupported},
		{"docker-archive:/tmp/x.tar", "v1", ErrTagNotSupported},
		{"containers-storage:" + hex64, "v1", ErrTagNotSupported},
		{"containers-storage:sha256:" + hex64, "v1", ErrTagNotSupported},
		{"containers-storage:@" + hex64, "v1", ErrTagNotSupported},
		{"docker-daemon:" + digest, "v1", ErrTagNotSupported},
		{"docker://quay.io/x", "", ErrInvalidReference},
		{"docker://quay.io/x", "a/b", ErrInvalidReference},
		{"docker://quay.io/x", ".bad", ErrInvalidReference},
	}
	for _, c := range bad {
		r, err := ParseImageReference(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := r.WithTag(c.tag); !errors.Is(err, c.target) {
			t.Errorf("%v.WithTag(%q) = %v, %v; want %v", r, c.tag, got, err, c.target)
		}
	}
	if _, err := (ImageReference{}).WithTag("v1"); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("zero ImageReference WithTag: %v", err)
	}
	if _, err := (OstreeImageReference{}).WithTag("v1"); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("zero OstreeImageReference WithTag: %v", err)
	}
}

func TestTextMarshaling(t *testing.T) {
	type doc struct {
		Transport Transport            `json:"transport"`
		Image     ImageReference       `json:"image"`
		Origin    OstreeImageReference `json:"origin"`
	}
	in := doc{
		Transport: TransportContainersStorage,
		Image:     img(TransportOCI, "/srv/layout:tag"),
		Origin:    OstreeImageReference{Sigverify: OstreeRemote("fedora"), Imgref: img(TransportRegistry, "quay.io/x:1")},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"transport":"containers-storage","image":"oci:/srv/layout:tag","origin":"ostree-remote-image:fedora:docker://quay.io/x:1"}`
	if string(b) != want {
		t.Errorf("json = %s; want %s", b, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("json round trip = %#v, %v", out, err)
	}
	for _, bad := range []string{
		`{"transport":"docker"}`,
		`{"image":"foo:bar"}`,
		`{"origin":"quay.io/x"}`,
	} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("json.Unmarshal(%s) succeeded", bad)
		}
	}
	if _, err := json.Marshal(doc{}); err == nil {
		t.Error("marshaling zero values succeeded")
	}
	if _, err := (ImageReference{}).MarshalText(); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("zero ImageReference MarshalText: %v", err)
	}
}

func TestIsOstreeImageReference(t *testing.T) {
	for s, want := range map[string]bool{
		"ostree-unverified-registry:x":  true,
		"ostree-unverified-image:x":     true,
		"ostree-image-signed:x":         true,
		"ostree-remote-image:x":         true,
		"ostree-remote-registry:x":      true,
		"ostree-remote-registry":        false,
		"ostree-foo:x":                  false,
		"quay.io/ostree-image-signed:x": false,
		"docker://quay.io/x":            false,
	} {
		if got := IsOstreeImageReference(s); got != want {
			t.Errorf("IsOstreeImageReference(%q) = %v", s, got)
		}
	}
}

// FuzzParse checks that Parse and ParseImageReference never panic and that
// whatever they accept is valid and survives a String/parse round trip.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ostree-unverified-registry:quay.io/fedora/fedora-bootc:42",
		"ostree-unverified-image:docker://quay.io/x",
		"ostree-unverified-image:oci:/srv/layout:tag",
		"ostree-image-signed:registry:quay.io/x@" + digest,
		"ostree-remote-image:myremote:docker://quay.io/exampleos/blah",
		"ostree-remote-registry:fedora:localhost:5000/a/b:1",
		"ostree-unverified-image:containers-storage:[overlay@/x]localhost/bootc",
		"docker://[::1]:5000/x",
		"docker-daemon:" + digest,
		"oci::",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := Parse(s); err == nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("Parse(%q) = %#v, which is invalid: %v", s, r, err)
			}
			again, err := Parse(r.String())
			if err != nil {
				t.Fatalf("Parse(%q) = %#v; Parse(%q) failed: %v", s, r, r.String(), err)
			}
			if again != r {
				t.Fatalf("Parse(%q) = %#v but Parse(%q) = %#v", s, r, r.String(), again)
			}
			if _, err := r.Canonicalize(); err != nil {
				t.Fatalf("Canonicalize(%#v): %v", r, err)
			}
			if w, err := r.WithTag("fuzz"); err == nil {
				if err := w.Validate(); err != nil {
					t.Fatalf("WithTag(%#v) = %#v, which is invalid: %v", r, w, err)
				}
			}
			ref := ImageRef(r.Imgref)
			back, err := ImageReferenceFromRef(ref)
			if err != nil || back != r.Imgref {
				t.Fatalf("ImageReferenceFromRef(%q) = %#v, %v; want %#v", ref, back, err, r.Imgref)
			}
		} else if !errors.Is(err, ErrInvalidReference) {
			t.Fatalf("Parse(%q) error %v does not wrap ErrInvalidReference", s, err)
		}
		if r, err := ParseImageReference(s); err == nil {
			again, err := ParseImageReference(r.String())
			if err != nil || again != r {
				t.Fatalf("ParseImageReference(%q) = %#v; reparse of %q = %#v, %v", s, r, r.String(), again, err)
			}
		}
	})
}
