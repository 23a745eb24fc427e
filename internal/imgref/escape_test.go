package imgref

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// ostreeRefRe is libostree's OSTREE_REF_REGEXP (ostree_validate_rev), with
// \w limited to ASCII.
var ostreeRefRe = regexp.MustCompile(`^(?:[-._A-Za-z0-9]+/)*[-._A-Za-z0-9]+$`)

const fooSHA256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

// Upstream ostree-ext refescape.rs unit test vectors.
var (
	upstreamUnchanged = []string{"foo", "foo/bar/baz-blah/foo"}
	upstreamRoundtrip = []string{
		"localhost:5000/foo:latest",
		"fedora/x86_64/coreos",
		"/foo/bar/foo.oci-archive",
		"/foo/bar/foo.docker-archive",
		"docker://quay.io/exampleos/blah:latest",
		"oci-archive:/path/to/foo.ociarchive",
		"docker-archive:/path/to/foo.dockerarchive",
	}
	upstreamCornercases = []string{"/", "blah/", "/foo/"}
)

const testPrefix = "testprefix/blah"

func TestEscapeUpstreamVectors(t *testing.T) {
	for _, v := range upstreamUnchanged {
		if got := EscapeRef(v); got != v {
			t.Errorf("EscapeRef(%q) = %q; want it unchanged", v, got)
		}
	}
	var all []string
	all = append(all, upstreamUnchanged...)
	all = append(all, upstreamRoundtrip...)
	all = append(all, upstreamCornercases...)
	for _, v := range all {
		ref, err := PrefixEscapeRef(testPrefix, v)
		if err != nil {
			t.Fatalf("PrefixEscapeRef(%q): %v", v, err)
		}
		if !ostreeRefRe.MatchString(ref) {
			t.Errorf("PrefixEscapeRef(%q) = %q is not a valid ostree ref", v, ref)
		}
		back, err := UnprefixUnescapeRef(testPrefix, ref)
		if err != nil || back != v {
			t.Errorf("UnprefixUnescapeRef(%q) = %q, %v; want %q", ref, back, err, v)
		}
	}
	if got := EscapeRef(upstreamRoundtrip[0]); got != "localhost_3A_5000/foo_3A_latest" {
		t.Errorf("EscapeRef(%q) = %q", upstreamRoundtrip[0], got)
	}
	// The doc test of prefix_escape_for_ref and unprefix_unescape_ref.
	got, err := PrefixEscapeRef("container", "registry:quay.io/coreos/fedora:latest")
	if err != nil || got != "container/registry_3A_quay_2E_io/coreos/fedora_3A_latest" {
		t.Errorf("PrefixEscapeRef doc example = %q, %v", got, err)
	}
	back, err := UnprefixUnescapeRef("container", "container/registry_3A_quay_2E_io/coreos/fedora_3A_latest")
	if err != nil || back != "registry:quay.io/coreos/fedora:latest" {
		t.Errorf("UnprefixUnescapeRef doc example = %q, %v", back, err)
	}
}

func TestEscapeRef(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"registry:quay.io/coreos/fedora:latest", "registry_3A_quay_2E_io/coreos/fedora_3A_latest"},
		{"sha256:" + fooSHA256, "sha256_3A_" + fooSHA256},
		{"docker://quay.io/fedora/fedora-bootc:42", "docker_3A__2F__2F_quay_2E_io/fedora/fedora-bootc_3A_42"},
		{"a_b", "a__b"},
		{"__", "____"},
		{"a//b", "a/_2F_b"},
		{"a-/b", "a-_2F_b"},
		{"a_/b", "a___2F_b"},
		{"/", "_2F_"},
		{"blah/", "blah_2F_"},
		{"/foo/", "_2F_foo_2F_"},
		{"-", "-"},
		{"A.Z", "A_2E_Z"},
		{"a b", "a_20_b"},
		{"\x00", "_00_"},
		{"\x01", "_01_"},
		{"\x7f", "_7F_"},
		{"é", "_E9_"},
		{"ä/x", "_E4__2F_x"},
		{"€", "_20AC_"},
		{"😀", "_1F600_"},
		{"\xff", "_FFFD_"},
		{"oci:/srv/layout:tag", "oci_3A__2F_srv/layout_3A_tag"},
		{"containers-storage:localhost/bootc", "containers-storage_3A_localhost/bootc"},
	}
	for _, c := range cases {
		if got := EscapeRef(c.in); got != c.want {
			t.Errorf("EscapeRef(%q) = %q; want %q", c.in, got, c.want)
		}
		if !utf8.ValidString(c.in) {
			continue
		}
		back, err := UnescapeRef(c.want)
		if err != nil || back != c.in {
			t.Errorf("UnescapeRef(%q) = %q, %v; want %q", c.want, back, err, c.in)
		}
	}
}

func TestRefs(t *testing.T) {
	if got, want := BlobRef("sha256:"+fooSHA256), "ostree/container/blob/sha256_3A_"+fooSHA256; got != want {
		t.Errorf("BlobRef = %q; want %q", got, want)
	}
	d, err := DigestFromBlobRef("ostree/container/blob/sha256_3A_" + fooSHA256)
	if err != nil || d != "sha256:"+fooSHA256 {
		t.Errorf("DigestFromBlobRef = %q, %v", d, err)
	}
	cases := []struct {
		imgref ImageReference
		ref    string
	}{
		{img(TransportRegistry, "quay.io/fedora/fedora-bootc:42"), "ostree/container/image/docker_3A__2F__2F_quay_2E_io/fedora/fedora-bootc_3A_42"},
		{img(TransportRegistry, "quay.io/exampleos/blah:latest"), "ostree/container/image/docker_3A__2F__2F_quay_2E_io/exampleos/blah_3A_latest"},
		{img(TransportContainersStorage, "localhost/bootc"), "ostree/container/image/containers-storage_3A_localhost/bootc"},
		{img(TransportOCI, "/srv/layout:tag"), "ostree/container/image/oci_3A__2F_srv/layout_3A_tag"},
		{img(TransportOCIArchive, "/path/to/foo.ociarchive"), "ostree/container/image/oci-archive_3A__2F_path/to/foo_2E_ociarchive"},
		{img(TransportRegistry, "localhost:5000/x@sha256:"+fooSHA256), "ostree/container/image/docker_3A__2F__2F_localhost_3A_5000/x_40_sha256_3A_" + fooSHA256},
	}
	for _, c := range cases {
		got := ImageRef(c.imgref)
		if got != c.ref {
			t.Errorf("ImageRef(%v) = %q; want %q", c.imgref, got, c.ref)
		}
		if !ostreeRefRe.MatchString(got) {
			t.Errorf("ImageRef(%v) = %q is not a valid ostree ref", c.imgref, got)
		}
		back, err := ImageReferenceFromRef(got)
		if err != nil || back != c.imgref {
			t.Errorf("ImageReferenceFromRef(%q) = %v, %v", got, back, err)
		}
	}
	for _, bad := range []string{
		"ostree/container/blob/sha256_3A_abc",
		"ostree/container/image",
		"ostree/container/image/",
		"ostree/container/image/quay_2E_io/x",
		"ostree/container/image/docker_3A_",
		"ostree/container/image/x.y",
	} {
		if r, err := ImageReferenceFromRef(bad); err == nil {
			t.Errorf("ImageReferenceFromRef(%q) = %v", bad, r)
		}
	}
	for _, bad := range []string{"ostree/container/image/sha256_3A_x", "ostree/container/blob/", "ostree/container/blob"} {
		if d, err := DigestFromBlobRef(bad); !errors.Is(err, ErrInvalidEscape) {
			t.Errorf("DigestFromBlobRef(%q) = %q, %v", bad, d, err)
		}
	}
	if BaseImageRefPrefix != "ostree/container/baseimage" || BlobRefPrefix != "ostree/container/blob" || ImageRefPrefix != "ostree/container/image" {
		t.Error("ref prefixes changed")
	}
}

func TestUnescapeRef(t *testing.T) {
	good := map[string]string{
		"":          "",
		"abc":       "abc",
		"a/b-c":     "a/b-c",
		"a__b":      "a_b",
		"_3a_":      ":",
		"_0041_":    "A",
		"_41_":      "A",
		"_10FFFF_":  "\U0010FFFF",
		"x_2F_":     "x/",
		"_E9__E9_":  "éé",
		"______":    "___",
		"_5F__5F_x": "__x",
	}
	for in, want := range good {
		got, err := UnescapeRef(in)
		if err != nil || got != want {
			t.Errorf("UnescapeRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"_",           // unterminated
		"a_",          // unterminated
		"_3A",         // unterminated
		"_3A_x_",      // "_" at the end is unterminated
		"_ZZ_",        // not hex
		"_+41_",       // sign
		"_-41_",       // sign
		"_D800_",      // surrogate
		"_110000_",    // beyond Unicode
		"_FFFFFFFFF_", // beyond 32 bits
		"a.b",
		"a:b",
		"a b",
		"é",
	} {
		if got, err := UnescapeRef(in); !errors.Is(err, ErrInvalidEscape) {
			t.Errorf("UnescapeRef(%q) = %q, %v; want ErrInvalidEscape", in, got, err)
		}
	}
}

func TestPrefixEscapeRefErrors(t *testing.T) {
	for _, c := range []struct{ prefix, s string }{
		{"", "x"},
		{"p", ""},
		{"p", "a\x00b"},
		{"p", "\xff"},
	} {
		if got, err := PrefixEscapeRef(c.prefix, c.s); !errors.Is(err, ErrInvalidEscape) {
			t.Errorf("PrefixEscapeRef(%q, %q) = %q, %v", c.prefix, c.s, got, err)
		}
	}
	for _, c := range []struct{ prefix, ref string }{
		{"p", "q/x"},
		{"p", "p"},
		{"p", "px"},
		{"", "/x"},
		{"p", "p/a.b"},
	} {
		if got, err := UnprefixUnescapeRef(c.prefix, c.ref); !errors.Is(err, ErrInvalidEscape) {
			t.Errorf("UnprefixUnescapeRef(%q, %q) = %q, %v", c.prefix, c.ref, got, err)
		}
	}
}

// FuzzEscape checks that UnescapeRef(EscapeRef(s)) == s for valid UTF-8,
// that the escaped form only uses ostree ref characters, and that
// UnescapeRef never panics.
func FuzzEscape(f *testing.F) {
	for _, s := range upstreamUnchanged {
		f.Add(s)
	}
	for _, s := range upstreamRoundtrip {
		f.Add(s)
	}
	for _, s := range upstreamCornercases {
		f.Add(s)
	}
	f.Add("é_€/😀//_")
	f.Add("_3A__2F_")
	f.Fuzz(func(t *testing.T, s string) {
		// Whatever the input, unescaping must not panic.
		if u, err := UnescapeRef(s); err == nil && !utf8.ValidString(u) {
			t.Fatalf("UnescapeRef(%q) = %q is not valid UTF-8", s, u)
		}
		e := EscapeRef(s)
		if strings.Trim(e, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/") != "" {
			t.Fatalf("EscapeRef(%q) = %q has characters outside [-_/A-Za-z0-9]", s, e)
		}
		if !utf8.ValidString(s) {
			return
		}
		u, err := UnescapeRef(e)
		if err != nil {
			t.Fatalf("UnescapeRef(EscapeRef(%q) = %q): %v", s, e, err)
		}
		if u != s {
			t.Fatalf("UnescapeRef(EscapeRef(%q)) = %q", s, u)
		}
		if ref, err := PrefixEscapeRef(testPrefix, s); err == nil {
			if !ostreeRefRe.MatchString(ref) {
				t.Fatalf("PrefixEscapeRef(%q) = %q is not a valid ostree ref", s, ref)
			}
		} else if s != "" && !strings.Contains(s, "\x00") {
			t.Fatalf("PrefixEscapeRef(%q): %v", s, err)
		}
	})
}
