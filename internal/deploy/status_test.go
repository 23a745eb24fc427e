package deploy

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/spec"
	"github.com/bootc-go/bootc/ostree"
)

// dep is a deployment snapshot for the tests: index in boot order, stateroot, checksum.
func dep(index int, stateroot, checksum string, staged bool) *ostree.Deployment {
	return &ostree.Deployment{Index: index, Stateroot: stateroot, Checksum: checksum, Staged: staged}
}

// names returns the checksums of ds, "-" for nil.
func names(ds ...*ostree.Deployment) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = "-"
		if d != nil {
			out[i] = d.Checksum
		}
	}
	return out
}

func TestClassify(t *testing.T) {
	staged := dep(0, "default", "staged", true)
	a := dep(0, "default", "a", false)
	b := dep(1, "default", "b", false)
	c := dep(2, "default", "c", false)
	other := dep(1, "fedora", "other", false)
	tests := []struct {
		name   string
		all    []*ostree.Deployment
		booted *ostree.Deployment
		// want: staged, booted, rollback; then other; then flags
		want            []string
		wantOther       []string
		queued, offline bool
	}{
		{"booted only", []*ostree.Deployment{a}, a, []string{"-", "a", "-"}, nil, false, false},
		{"booted and rollback", []*ostree.Deployment{a, b}, a, []string{"-", "a", "b"}, nil, false, false},
		{"rollback queued", []*ostree.Deployment{dep(0, "default", "b", false), dep(1, "default", "a", false)}, dep(1, "default", "a", false),
			[]string{"-", "a", "b"}, nil, true, false},
		{"staged", []*ostree.Deployment{staged, a, b}, a, []string{"staged", "a", "b"}, nil, false, false},
		{"older deployments are other", []*ostree.Deployment{a, b, c}, a, []string{"-", "a", "b"}, []string{"c"}, false, false},
		{"other stateroot", []*ostree.Deployment{a, other, b}, a, []string{"-", "a", "b"}, []string{"other"}, false, false},
		{"staged in another stateroot (install reset)", []*ostree.Deployment{dep(0, "s2026-0", "reset", true), a, b}, a,
			[]string{"reset", "a", "b"}, nil, false, false},
		{"offline: first unstaged boots", []*ostree.Deployment{staged, b, a}, nil, []string{"staged", "b", "a"}, nil, false, true},
		{"offline, rollback first never queued", []*ostree.Deployment{a, b}, nil, []string{"-", "a", "b"}, nil, false, true},
		{"offline, nothing deployed", nil, nil, []string{"-", "-", "-"}, nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.all, tt.booted)
			if n := names(got.Staged, got.Booted, got.Rollback); !slices.Equal(n, tt.want) {
				t.Errorf("staged, booted, rollback = %v, want %v", n, tt.want)
			}
			if n := names(got.Other...); !slices.Equal(n, tt.wantOther) && (len(n) != 0 || len(tt.wantOther) != 0) {
				t.Errorf("other = %v, want %v", n, tt.wantOther)
			}
			if got.RollbackQueued != tt.queued || got.Offline != tt.offline {
				t.Errorf("RollbackQueued %v, Offline %v; want %v, %v", got.RollbackQueued, got.Offline, tt.queued, tt.offline)
			}
		})
	}
}

func TestImageStatus(t *testing.T) {
	ref := spec.ImageReference{Image: "quay.io/x:1", Transport: "registry"}
	ts := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		v = v.UTC()
		return &v
	}
	str := func(s string) *string { return &s }
	tests := []struct {
		name, config string
		arch         string
		version      *string
		timestamp    *time.Time
	}{
		{"no config", "", "", nil, nil},
		{"not JSON", "{", "", nil, nil},
		{"architecture and created", `{"architecture":"amd64","created":"2024-08-07T12:00:00Z"}`, "amd64", nil, ts("2024-08-07T12:00:00Z")},
		{"OCI version label first", `{"config":{"Labels":{"version":"old","org.opencontainers.image.version":"42"}}}`, "", str("42"), nil},
		{"version label", `{"config":{"Labels":{"version":"7"}}}`, "", str("7"), nil},
		{"created label wins over created", `{"created":"2020-01-01T00:00:00Z","config":{"Labels":{"org.opencontainers.image.created":"2024-01-01T10:00:00+02:00"}}}`, "", nil, ts("2024-01-01T08:00:00Z")},
		{"bad timestamp ignored", `{"architecture":"arm64","created":"yesterday"}`, "arm64", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := imageStatus(ref, "sha256:d", tt.config)
			if got.Image != ref || got.ImageDigest != "sha256:d" || got.Architecture != tt.arch {
				t.Errorf("image %+v, digest %q, architecture %q", got.Image, got.ImageDigest, got.Architecture)
			}
			if (got.Version == nil) != (tt.version == nil) || (got.Version != nil && *got.Version != *tt.version) {
				t.Errorf("version = %v, want %v", deref(got.Version), deref(tt.version))
			}
			if (got.Timestamp == nil) != (tt.timestamp == nil) || (got.Timestamp != nil && !got.Timestamp.Equal(*tt.timestamp)) {
				t.Errorf("timestamp = %v, want %v", got.Timestamp, tt.timestamp)
			}
			if got.Timestamp != nil && got.Timestamp.Location() != time.UTC {
				t.Errorf("timestamp %v is not in UTC", got.Timestamp)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestOriginDerivation(t *testing.T) {
	withOrigin := func(t *testing.T, text string) *ostree.Deployment {
		d := dep(0, "default", "abc", false)
		if text != "" {
			kf, err := ostree.ParseKeyFile(text)
			if err != nil {
				t.Fatal(err)
			}
			d.Origin = kf
		}
		return d
	}
	tests := []struct {
		name, origin string
		rpmostree    string
		ref          string // "" for none
		wantErr      bool
	}{
		{"no origin", "", "", "", false},
		{"container image", "[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x:1\n", "", "ostree-unverified-registry:quay.io/x:1", false},
		{"signed image", "[origin]\ncontainer-image-reference=ostree-image-signed:docker://quay.io/x:1\n", "", "ostree-image-signed:docker://quay.io/x:1", false},
		{"plain ostree ref", "[origin]\nrefspec=fedora:fedora/x86_64/coreos/stable\n", "", "", false},
		{"rpm-ostree packages", "[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x:1\n\n[packages]\nrequested=vim\n", "packages", "ostree-unverified-registry:quay.io/x:1", false},
		{"rpm-ostree overrides", "[origin]\nrefspec=a:b\n[overrides]\nremove=x\n", "overrides", "", false},
		{"bad reference", "[origin]\ncontainer-image-reference=nonsense\n", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := withOrigin(t, tt.origin)
			if g := rpmostreeGroup(d); g != tt.rpmostree {
				t.Errorf("rpmostreeGroup = %q, want %q", g, tt.rpmostree)
			}
			r, err := ImageRefOf(d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ImageRefOf: %v", err)
			}
			if err != nil && !errors.Is(err, imgref.ErrInvalidReference) {
				t.Errorf("ImageRefOf error %v does not wrap ErrInvalidReference", err)
			}
			got := ""
			if r != nil {
				got = r.String()
			}
			if got != tt.ref {
				t.Errorf("ImageRefOf = %q, want %q", got, tt.ref)
			}
		})
	}
	d := dep(0, "default", "abc", false)
	d.OriginErr = errors.New("broken")
	if _, err := ImageRefOf(d); err == nil {
		t.Error("ImageRefOf ignored OriginErr")
	}
	if r, err := ImageRefOf(nil); r != nil || err != nil {
		t.Errorf("ImageRefOf(nil) = %v, %v", r, err)
	}
}
