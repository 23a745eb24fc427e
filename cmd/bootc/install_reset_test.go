package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/install/installtest"
)

// TestInstallReset (upstream tmt 28, without the reboot): on an installed disk, install reset
// --experimental makes a fresh deployment of the same image in a new stateroot s<year>-0,
// with the image's /etc (the local edit gone), an empty /var, the root filesystem kernel
// arguments and /boot fstab line of the old deployment, and --karg added; the old deployment
// stays (among the other deployments: it is another stateroot's). A second reset picks s<year>-1; an existing --stateroot and a
// missing --experimental are refused.
func TestInstallReset(t *testing.T) {
	e := newInstallEnv(t)
	src := writeOCI(t, e.layout, "v1", bootableImage("1", "from.kargsd=1"))
	diskPath := installtest.SparseFile(t, 2*disk.GiB)
	if code, out, errs := runBootc(t, "--storage-root", e.storage, "install", "to-disk", "--via-loopback",
		"--source-imgref", "oci:"+src, "--filesystem", "ext4", "--bootloader", "none", diskPath); code != 0 {
		t.Fatalf("install: exit %d\n%s\n%s", code, out, errs)
	}
	root := installtest.MountInstalled(t, diskPath)
	b := func(args ...string) (int, string, string) {
		return bootc(t, append([]string{"--sysroot", root, "--storage-root", e.storage}, args...)...)
	}
	type entry struct {
		Ostree struct {
			Checksum     string `json:"checksum"`
			DeploySerial int    `json:"deploySerial"`
			Stateroot    string `json:"stateroot"`
		} `json:"ostree"`
	}
	status := func() (booted *entry, others []entry) {
		t.Helper()
		_, out, _ := b("status", "--format", "json")
		var st struct {
			Status struct {
				Booted *entry
				Others []entry `json:"otherDeployments"`
			} `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status: %v\n%s", err, out)
		}
		return st.Status.Booted, st.Status.Others
	}
	dir := func(en *entry) string {
		return filepath.Join(root, "ostree/deploy", en.Ostree.Stateroot, "deploy", fmt.Sprintf("%s.%d", en.Ostree.Checksum, en.Ostree.DeploySerial))
	}
	old, _ := status()
	if err := os.WriteFile(filepath.Join(dir(old), "etc/local-edit"), []byte("local"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ostree/deploy", old.Ostree.Stateroot, "var/marker"), []byte("old var"), 0o644); err != nil {
		t.Fatal(err)
	}
	oldFstab := readFile(t, filepath.Join(dir(old), "etc/fstab"))

	if code, _, errs := b("install", "reset"); code == 0 || !strings.Contains(errs, "--experimental") {
		t.Errorf("reset without --experimental: exit %d, %q", code, errs)
	}
	if code, out, errs := b("install", "reset", "--experimental", "--quiet", "--karg", "added.by=reset"); code != 0 {
		t.Fatalf("reset: exit %d\n%s\n%s", code, out, errs)
	}
	want := fmt.Sprintf("s%d-0", time.Now().Year())
	booted, others := status()
	if booted.Ostree.Stateroot != want || booted.Ostree.Checksum != old.Ostree.Checksum {
		t.Errorf("after reset, booted %+v; want the same commit in stateroot %s", booted.Ostree, want)
	}
	if len(others) != 1 || others[0].Ostree != old.Ostree {
		t.Errorf("after reset, other deployments %+v; want the old deployment %+v", others, old.Ostree)
	}
	if _, err := os.Stat(filepath.Join(dir(booted), "etc/local-edit")); err == nil {
		t.Error("the local /etc edit reached the reset deployment")
	}
	if _, err := os.Stat(filepath.Join(root, "ostree/deploy", want, "var/marker")); err == nil {
		t.Error("the old /var reached the new stateroot")
	}
	if got := readFile(t, filepath.Join(dir(booted), "etc/fstab")); !strings.Contains(got, " /boot ") || !strings.Contains(oldFstab, " /boot ") {
		t.Errorf("/boot fstab line not carried over:\nold:\n%s\nnew:\n%s", oldFstab, got)
	}
	entries, _ := filepath.Glob(filepath.Join(root, "boot/loader/entries/*.conf"))
	var newEntry string
	for _, p := range entries {
		if c := readFile(t, p); strings.Contains(c, "/deploy/"+want+"/") || strings.Contains(c, "ostree=/ostree/boot.") && strings.Contains(c, want) {
			newEntry = c
		}
	}
	for _, k := range []string{"root=UUID=", "rw", "from.kargsd=1", "added.by=reset"} {
		if !strings.Contains(newEntry, k) {
			t.Errorf("the new boot entry lacks %s:\n%s\n(all: %v)", k, newEntry, entries)
		}
	}
	if code, _, errs := b("install", "reset", "--experimental", "--stateroot", want); code == 0 || !strings.Contains(errs, "exists already") {
		t.Errorf("reset into an existing stateroot: exit %d, %q", code, errs)
	}
	if code, out, errs := b("install", "reset", "--experimental", "--quiet"); code != 0 {
		t.Fatalf("second reset: exit %d\n%s\n%s", code, out, errs)
	}
	if booted, _ := status(); booted.Ostree.Stateroot != fmt.Sprintf("s%d-1", time.Now().Year()) {
		t.Errorf("second reset went to stateroot %s", booted.Ostree.Stateroot)
	}
}
