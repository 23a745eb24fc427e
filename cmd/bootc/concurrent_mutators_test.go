package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.podman.io/image/v5/pkg/sysregistriesv2"
)

// TestConcurrentMutatorsAndStatus holds an upgrade in the middle of its fetch (holding the
// sysroot lock) and starts every other mutating verb that runs on an offline sysroot
// beside it: switch (which prunes), upgrade and rollback. Each must say that it waits for
// the lock, then finish once the upgrade is done (or fail with one clear line). Two
// `status --format json` run beside the held upgrade must both print valid JSON.
// (usr-overlay applies to the booted system only and refuses --sysroot; it takes the same
// lock, see usroverlay.go. bootc has no separate prune verb: switch prunes.)
func TestConcurrentMutatorsAndStatus(t *testing.T) {
	h := newTestHost(t)
	bin := buildBootc(t)
	r := startRegistry(t)
	gate := startGate(t, r.reg.Host())
	conf := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", gate.host)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_REGISTRIES_CONF", conf)
	sysregistriesv2.InvalidateCache()

	r.push(t, bootableImage("1"), "latest")
	h.bootc(t, "switch", "--quiet", gate.host+"/os:latest")
	r.push(t, bootableImage("2"), "latest")
	layout := filepath.Join(t.TempDir(), "oci")
	other := writeOCI(t, layout, "v3", bootableImage("3"))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--sysroot", h.sysroot, "--storage-root", h.storage}
	gate.armed.Store(true)
	first := startBootc(t, ctx, bin, append(base, "upgrade", "--quiet")...)
	first.await(t, ctx, gate.waiting, "fetching from the registry")

	for i := 0; i < 2; i++ {
		st := startBootc(t, ctx, bin, append(base, "status", "--format", "json")...)
		st.wait(t)
		var v map[string]any
		if err := json.Unmarshal([]byte(st.stdout.String()), &v); err != nil || v["kind"] != "BootcHost" {
			t.Fatalf("status beside a running upgrade is not a BootcHost JSON document (%v):\n%s", err, st.output())
		}
	}

	var others []*proc
	for _, args := range [][]string{
		{"switch", "--quiet", "--transport", "oci", other},
		{"upgrade", "--quiet"},
		{"rollback"},
	} {
		p := startBootc(t, ctx, bin, append(base, args...)...)
		p.await(t, ctx, p.sawWait, "saying it waits for the sysroot lock")
		others = append(others, p)
	}
	gate.open()
	first.wait(t)
	for _, p := range others {
		<-p.done
		if p.err != nil {
			// Allowed: a clear one-line error, after the wait line.
			lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "error: ") || strings.Count(p.stderr.String(), "error:") != 1 {
				t.Errorf("bootc %s failed without one clear error line:\n%s", strings.Join(p.cmd.Args[1:], " "), p.output())
			}
		}
		t.Logf("bootc %s:\n%s", strings.Join(p.cmd.Args[1:], " "), p.output())
	}
	h.fsck(t)
	h.status(t)
}
