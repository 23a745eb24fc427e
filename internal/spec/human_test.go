package spec

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestHumanMatchesUpstream checks the human-readable output against the
// outputs upstream's own tests expect for the same states
// (crates/lib/src/status.rs), typed in here by hand.
func TestHumanMatchesUpstream(t *testing.T) {
	tests := []struct {
		input string
		want  []string // lines
	}{
		{"staged-booted.yaml", []string{
			"  Staged image: quay.io/example/someimage:latest",
			"        Digest: sha256:16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566 (arm64)",
			"       Version: nightly (2023-10-14T19:22:15Z)",
			"",
			"● Booted image: quay.io/example/someimage:latest",
			"        Digest: sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34 (arm64)",
			"       Version: nightly (2023-09-30T19:22:16Z)",
		}},
		{"staged-download-only.yaml", []string{
			"  Staged image: quay.io/example/someimage:latest",
			"        Digest: sha256:16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566 (arm64)",
			"       Version: nightly (2023-10-14T19:22:15Z)",
			"",
			"● Booted image: quay.io/example/someimage:latest",
			"        Digest: sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34 (arm64)",
			"       Version: nightly (2023-09-30T19:22:16Z)",
		}},
		{"rfe-ostree-deployment.yaml", []string{
			"  Staged ostree",
			"         Commit: 1c24260fdd1be20f72a4a97a75c582834ee3431fbb0fa8e4f482bb219d633a45",
			"",
			"● Booted ostree",
			"           Commit: f9fa3a553ceaaaf30cf85bfe7eed46a822f7b8fd7e14c1e3389cbc3f6d27f791",
		}},
		{"ostree-to-bootc.yaml", []string{
			"  Staged image: quay.io/centos-bootc/centos-bootc:stream9",
			"        Digest: sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38 (s390x)",
			"       Version: stream9.20240807.0",
			"",
			"● Booted ostree",
			"           Commit: f9fa3a553ceaaaf30cf85bfe7eed46a822f7b8fd7e14c1e3389cbc3f6d27f791",
		}},
		{"staged-rollback.yaml", []string{"System is not deployed via bootc."}},
		{"v1-null.json", []string{"System is not deployed via bootc."}},
		{"via-local-oci.yaml", []string{
			"● Booted image: oci:/var/mnt/osupdate",
			"        Digest: sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38 (amd64)",
			"       Version: stream9.20240807.0",
		}},
		{"booted-pinned.yaml", []string{
			"● Booted image: quay.io/centos-bootc/centos-bootc:stream9",
			"        Digest: sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38 (arm64)",
			"       Version: stream9.20240807.0",
			"        Pinned: yes",
			"",
			"   Other image: quay.io/centos-bootc/centos-bootc:stream9",
			"        Digest: sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b37 (arm64)",
			"       Version: stream9.20240807.0",
			"        Pinned: yes",
		}},
		{"booted-usroverlay.yaml", []string{
			"● Booted image: quay.io/example/someimage:latest",
			"        Digest: sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34 (arm64)",
			"       Version: nightly (2023-09-30T19:22:16Z)",
			"  /usr overlay: transient, read/write",
		}},
		{"booted-with-update.yaml", []string{
			"● Booted image: quay.io/centos-bootc/centos-bootc:stream9",
			"        Digest: sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38 (arm64)",
			"       Version: stream9.20240807.0 (2024-08-07T12:00:00Z)",
			" UpdateVersion: stream9.20240901.0 (2024-09-01T12:00:00Z)",
			"  UpdateDigest: sha256:a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0",
		}},
		{"booted-with-update-no-version.yaml", []string{
			"● Booted image: quay.io/centos-bootc/centos-bootc:stream9",
			"        Digest: sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38 (arm64)",
			"       Version: stream9.20240807.0",
			"        Update: Available",
			"  UpdateDigest: sha256:b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1",
		}},
		{"booted-update-same-digest.yaml", []string{
			"● Booted image: quay.io/centos-bootc/centos-bootc:stream9",
			"        Digest: sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38 (arm64)",
			"       Version: stream9.20240807.0",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			h := parseInput(t, filepath.Join("testdata", "input", tc.input))
			var b bytes.Buffer
			if err := RenderHuman(&b, h, false); err != nil {
				t.Fatal(err)
			}
			want := strings.Join(tc.want, "\n") + "\n"
			if b.String() != want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
			}
		})
	}
}

// TestHumanVerbose checks the rows upstream's tests require in verbose mode.
func TestHumanVerbose(t *testing.T) {
	tests := []struct {
		input   string
		want    []string
		notWant []string
	}{
		{"booted-with-update.yaml", []string{"StateRoot: default", "Deploy serial: 0", "Staged: no", "Commit: 439f6bd2", "Soft-reboot: no"}, []string{"Download-only"}},
		{"staged-download-only.yaml", []string{"Download-only: yes", "Staged: yes", "Signature: insecure"}, nil},
		{"staged-booted.yaml", []string{"Download-only: no"}, nil},
		{"rollback-queued.yaml", []string{"Signature: container-policy", "Soft-reboot: yes", "StateRoot: fedora"}, []string{"Download-only"}},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			h := parseInput(t, filepath.Join("testdata", "input", tc.input))
			var b bytes.Buffer
			if err := RenderHuman(&b, h, true); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("missing %q in:\n%s", w, b.String())
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(b.String(), w) {
					t.Errorf("unexpected %q in:\n%s", w, b.String())
				}
			}
		})
	}
}

// TestHumanEdgeCases covers entries upstream renders specially.
func TestHumanEdgeCases(t *testing.T) {
	ostreeSig := &ImageStatus{
		Image:        ImageReference{Image: "quay.io/fedora/fedora-coreos:stable", Transport: "registry", Signature: OstreeRemoteSignature("fedora")},
		ImageDigest:  "sha256:aa",
		Architecture: "amd64",
	}
	tests := []struct {
		name    string
		status  HostStatus
		verbose bool
		want    string
	}{
		{
			name:   "unknown booted state",
			status: HostStatus{Booted: &BootEntry{}},
			want:   "Current booted state is unknown\n",
		},
		{
			name:    "ostree remote signature, no version or timestamp",
			status:  HostStatus{Booted: &BootEntry{Image: ostreeSig}},
			verbose: true,
			want: "● Booted image: quay.io/fedora/fedora-coreos:stable\n" +
				"        Digest: sha256:aa (amd64)\n" +
				"     Signature: ostree-remote:fedora\n" +
				"   Soft-reboot: no\n",
		},
		{
			name: "composefs entry without image",
			status: HostStatus{Booted: &BootEntry{Composefs: &BootEntryComposefs{
				Verity: "abcd", BootType: "Bls", Bootloader: "systemd",
			}}},
			want: "● Booted composefs\n              Commit: abcd\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHost(HostSpec{})
			h.Status = tc.status
			var b bytes.Buffer
			if err := RenderHuman(&b, h, tc.verbose); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", b.String(), tc.want)
			}
		})
	}
}
