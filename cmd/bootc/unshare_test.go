package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alecthomas/kong"
)

// TestUnshareDecision is issue 10 item 7: whether bootc re-executes in a private mount
// namespace is decided from the parsed command. Before, the raw argv was scanned, and
// `bootc --log-level debug upgrade` took "debug" for the verb, so libostree remounted
// /sysroot read-write in the host's namespace.
func TestUnshareDecision(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ostree-booted")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	oldInstall := installReexec
	t.Cleanup(func() { installReexec = oldInstall })
	installReexec = true
	for _, tc := range []struct {
		args               []string
		env                map[string]string
		notRoot, notBooted bool
		want               string
		wantFD             int
	}{
		{args: []string{"upgrade"}, want: unsharedEnv},
		{args: []string{"--log-level", "debug", "upgrade"}, want: unsharedEnv},
		{args: []string{"--log-level=debug", "switch", "quay.io/x/y"}, want: unsharedEnv},
		{args: []string{"update", "--progress-fd", "5"}, want: unsharedEnv, wantFD: 5},
		{args: []string{"--log-level", "trace", "rollback"}, want: unsharedEnv},
		{args: []string{"edit", "--filename", "x.yaml"}, want: unsharedEnv},
		{args: []string{"--sysroot", "/mnt", "upgrade"}},
		{args: []string{"upgrade", "--sysroot=/mnt"}},
		{args: []string{"upgrade"}, notRoot: true},
		{args: []string{"upgrade"}, notBooted: true},
		{args: []string{"upgrade"}, env: map[string]string{unsharedEnv: "1"}},
		{args: []string{"--log-level", "debug", "status"}},
		{args: []string{"status", "--format", "json"}},
		{args: []string{"usr-overlay"}},
		{args: []string{"switch", "upgrade"}, want: unsharedEnv},
		{args: []string{"install", "to-disk", "--source-imgref", "oci:/x", "--progress-fd", "4", "/dev/vdb"}, want: installUnsharedEnv, wantFD: 4},
		{args: []string{"--log-level", "debug", "install", "to-disk", "--source-imgref=oci:/x", "/dev/vdb"}, want: installUnsharedEnv},
		{args: []string{"install", "to-disk", "--source-imgref=oci:/x", "/dev/vdb"}, env: map[string]string{installSkipUnshareEnv: "1"}},
		{args: []string{"install", "to-filesystem", "--source-imgref=oci:/x", "/mnt"}},
		{args: []string{"install", "to-existing-root", "--source-imgref=oci:/x", "--progress-fd=6"}, want: installUnsharedEnv, wantFD: 6},
		{args: []string{"install", "to-existing-root", "--source-imgref=oci:/x", "/target"}, env: map[string]string{installSkipUnshareEnv: "1"}},
		{args: []string{"internals", "destructive-cleanup"}, want: unsharedEnv},
		{args: []string{"image", "copy-to-storage"}, want: unsharedEnv},
		{args: []string{"image", "copy-to-storage", "--sysroot", "/mnt"}},
		{args: []string{"image", "list"}},
		{args: []string{"internals", "destructive-cleanup"}, notBooted: true},
	} {
		var cli CLI
		parser, err := kong.New(&cli, kong.Vars{"version": "test"})
		if err != nil {
			t.Fatal(err)
		}
		kctx, err := parser.Parse(tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		d := &Deps{IsRoot: !tc.notRoot, Env: func(k string) string { return tc.env[k] }, BootedMarker: marker}
		if tc.notBooted {
			d.BootedMarker = marker + ".missing"
		}
		got, fd := unshareFor(kctx.Command(), &cli, d)
		if got != tc.want || fd != tc.wantFD {
			t.Errorf("%q (root %v, booted %v, env %v): re-exec %q fd %d, want %q fd %d",
				tc.args, !tc.notRoot, !tc.notBooted, tc.env, got, fd, tc.want, tc.wantFD)
		}
	}
}
