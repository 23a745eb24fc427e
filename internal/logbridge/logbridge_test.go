package logbridge

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// logger is a zerolog logger at level writing plain JSON lines into a buffer.
func logger(level zerolog.Level) (zerolog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return zerolog.New(&buf).Level(level), &buf
}

// TestLevels checks that a logrus entry comes out through zerolog exactly when bootc's
// level lets its level through, at the matching zerolog level, with its fields.
func TestLevels(t *testing.T) {
	logs := []struct {
		level logrus.Level
		want  string // zerolog level name
	}{
		{logrus.TraceLevel, "trace"},
		{logrus.DebugLevel, "debug"},
		{logrus.InfoLevel, "info"},
		{logrus.WarnLevel, "warn"},
		{logrus.ErrorLevel, "error"},
	}
	for _, bootcLevel := range []zerolog.Level{zerolog.TraceLevel, zerolog.DebugLevel, zerolog.InfoLevel, zerolog.WarnLevel, zerolog.ErrorLevel} {
		for _, l := range logs {
			log, buf := logger(bootcLevel)
			Route(log)
			logrus.WithField("driver", "overlay").WithError(errors.New("boom")).Log(l.level, "[graphdriver] hello")
			got := buf.String()
			lvl, _ := zerolog.ParseLevel(l.want)
			if lvl < bootcLevel {
				if got != "" {
					t.Errorf("bootc level %s, logrus %s: want nothing, got %q", bootcLevel, l.level, got)
				}
				continue
			}
			for _, want := range []string{`"level":"` + l.want + `"`, `"message":"[graphdriver] hello"`, `"driver":"overlay"`, `"error":"boom"`} {
				if !strings.Contains(got, want) {
					t.Errorf("bootc level %s, logrus %s: %q lacks %s", bootcLevel, l.level, got, want)
				}
			}
		}
	}
	// Route again replaces the previous hook: one line per entry.
	log, buf := logger(zerolog.InfoLevel)
	Route(log)
	Route(log)
	logrus.Warn("once")
	if n := strings.Count(buf.String(), "once"); n != 1 {
		t.Errorf("after two Routes an entry came out %d times: %q", n, buf.String())
	}
}

// TestStorageQuiet opens containers-storage stores whose graph root holds an overlay
// directory without naming a driver, so that containers-storage logs "[graphdriver]
// using prior storage driver: overlay" at info (the message issue 12 item 13 saw on
// the terminal). At bootc's default level (warn) nothing must come out, neither through
// zerolog nor on stderr; at info the message comes through zerolog.
func TestStorageQuiet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test opens containers-storage stores with the overlay driver and must run as root")
	}
	stderr := captureStderr(t)
	open := func() {
		// A new graph root each time: containers-storage caches stores by graph root.
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "root", "overlay"), 0o700); err != nil {
			t.Fatal(err)
		}
		s, err := storage.GetStore(storage.StoreOptions{GraphRoot: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run")})
		if err != nil {
			t.Fatalf("opening a store in %s: %v", dir, err)
		}
		if _, err := s.Shutdown(true); err != nil {
			t.Fatalf("shutting the store down: %v", err)
		}
	}
	quiet, qbuf := logger(zerolog.WarnLevel)
	Route(quiet)
	open()
	info, ibuf := logger(zerolog.InfoLevel)
	Route(info)
	open()
	if out := stderr(); out != "" {
		t.Errorf("stderr got %q, want nothing", out)
	}
	if qbuf.Len() != 0 {
		t.Errorf("at warn: %q, want nothing", qbuf.String())
	}
	if !strings.Contains(ibuf.String(), `"level":"info","message":"[graphdriver] using prior storage driver: overlay"`) {
		t.Errorf("at info: %q lacks the storage driver message", ibuf.String())
	}
}

// captureStderr points file descriptor 2 (where logrus's default output, os.Stderr at
// its init, writes) at a pipe until the returned function is called; it returns what
// was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := unix.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r)
		done <- b.String()
	}()
	restored := false
	restore := func() string {
		if restored {
			return ""
		}
		restored = true
		_ = unix.Dup2(saved, 2)
		unix.Close(saved)
		return <-done
	}
	t.Cleanup(func() { restore() })
	return restore
}
