package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestLibraryLogsFollowLogLevel checks that, once bootc has parsed its command line,
// what the libraries log through logrus (containers-storage's "[graphdriver] using prior
// storage driver" at info) follows --log-level: nothing at the default level, bootc's
// own format on bootc's stderr at --log-level info.
func TestLibraryLogsFollowLogLevel(t *testing.T) {
	root := containerRoot(t, nil)
	t.Cleanup(func() { logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{}) })
	for _, tc := range []struct {
		args []string
		want string // "" = stderr stays empty
	}{
		{args: []string{"container", "lint", "--rootfs", root}},
		{args: []string{"--log-level", "warn", "container", "inspect", "--rootfs", root}},
		{args: []string{"--log-level", "info", "container", "inspect", "--rootfs", root}, want: "INF [graphdriver] using prior storage driver: overlay"},
		{args: []string{"--log-level=debug", "container", "inspect", "--rootfs", root}, want: "DBG [graphdriver] trying provided driver"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", tc.args, code, out.String(), errb.String())
		}
		// The logging set up by the run stays in place, as in the process of a verb.
		logrus.Infof("[graphdriver] using prior storage driver: %s", "overlay")
		logrus.Debugf("[graphdriver] trying provided driver %q", "overlay")
		got := errb.String()
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%q: stderr %q, want %q", tc.args, got, tc.want)
		}
		if strings.Contains(got, "level=info") || strings.Contains(got, "msg=") {
			t.Errorf("%q: logrus's own format reached stderr: %q", tc.args, got)
		}
	}
}
