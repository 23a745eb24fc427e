package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/bootc-go/bootc/internal/testskip"
)

// unitDir holds the systemd units shipped with bootc.
const unitDir = "../../systemd"

// unitFile is a parsed systemd unit: section -> key -> values (in order; keys may repeat).
type unitFile map[string]map[string][]string

// parseUnit reads a unit file: [Section] headers, KEY=VALUE lines, # and ; comments.
func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] != nil {
				t.Fatalf("%s:%d: section [%s] repeated", path, n, section)
			}
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: not KEY=VALUE in a section: %q", path, n, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSystemdUnits checks the automatic update units against upstream's settings: the timer
// first fires an hour after boot, then 8 hours after each run, randomly delayed by up to 2
// hours, and is wanted by timers.target; the service (the timer's unit, by name) runs
// `bootc upgrade --apply --quiet`, a command line this CLI accepts; both only on a system
// booted from ostree. systemd-analyze verify, where it exists, finds nothing to report.
func TestSystemdUnits(t *testing.T) {
	const name = "bootc-fetch-apply-updates"
	timer := parseUnit(t, filepath.Join(unitDir, name+".timer"))
	service := parseUnit(t, filepath.Join(unitDir, name+".service"))
	for _, tc := range []struct {
		unit             unitFile
		file             string
		section, key     string
		want             string
		mustBeOnlyValues bool
	}{
		{timer, "timer", "Timer", "OnBootSec", "1h", true},
		{timer, "timer", "Timer", "OnUnitInactiveSec", "8h", true},
		{timer, "timer", "Timer", "RandomizedDelaySec", "2h", true},
		{timer, "timer", "Install", "WantedBy", "timers.target", true},
		{timer, "timer", "Unit", "ConditionPathExists", "/run/ostree-booted", true},
		{service, "service", "Unit", "ConditionPathExists", "/run/ostree-booted", true},
		{service, "service", "Service", "Type", "oneshot", true},
		{service, "service", "Service", "ExecStart", "/usr/bin/bootc upgrade --apply --quiet", true},
	} {
		got := tc.unit[tc.section][tc.key]
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s.%s [%s] %s = %q, want %q", name, tc.file, tc.section, tc.key, got, tc.want)
		}
	}
	// The timer starts the service of the same name.
	if u := timer["Timer"]["Unit"]; u != nil {
		t.Errorf("timer names a unit (%q): it must start %s.service", u, name)
	}
	// The service is started by the timer only: nothing installs it.
	if service["Install"] != nil {
		t.Errorf("the service has an [Install] section: %v", service["Install"])
	}

	// The command line is one this bootc accepts.
	exec0 := strings.Fields(service["Service"]["ExecStart"][0])
	parser, err := kong.New(&CLI{}, kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := parser.Parse(exec0[1:])
	if err != nil {
		t.Fatalf("ExecStart %q: %v", exec0, err)
	}
	if kctx.Command() != "upgrade" {
		t.Fatalf("ExecStart runs %q, want upgrade", kctx.Command())
	}

	t.Run("systemd-analyze verify", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			testskip.Skipf(t, "tool:systemd-analyze", "systemd-analyze not installed: %v", err)
		}
		if _, err := os.Stat("/usr/lib/systemd/system/timers.target"); err != nil {
			testskip.Skipf(t, "systemd", "no systemd units on this machine to verify against: %v", err)
		}
		// A root with the units, an executable /usr/bin/bootc and this machine's system units
		// (for timers.target, sysinit.target, ...).
		root := t.TempDir()
		units := filepath.Join(root, "etc/systemd/system")
		for _, d := range []string{units, filepath.Join(root, "usr/bin"), filepath.Join(root, "usr/lib/systemd")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
			t.Fatalf("copying system units: %v\n%s", err, out)
		}
		if err := os.WriteFile(filepath.Join(root, "usr/bin/bootc"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{name + ".service", name + ".timer"} {
			b, err := os.ReadFile(filepath.Join(unitDir, f))
			if err == nil {
				err = os.WriteFile(filepath.Join(units, f), b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command(analyze, "verify", "--man=no", "--root="+root, name+".service", name+".timer").CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}
