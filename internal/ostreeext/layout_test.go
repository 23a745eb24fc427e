package ostreeext

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseLayout(t *testing.T) {
	manifest := func(n int) []byte {
		var m imageManifest
		for i := 0; i < n; i++ {
			m.Layers = append(m.Layers, struct {
				Digest      string            `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			}{Digest: "sha256:l" + string(rune('0'+i))})
		}
		b, _ := json.Marshal(m)
		return b
	}
	config := func(labels map[string]string, diffIDs ...string) []byte {
		var c imageConfig
		c.Config.Labels = labels
		c.RootFS.DiffIDs = diffIDs
		b, _ := json.Marshal(c)
		return b
	}
	for _, tc := range []struct {
		name     string
		manifest []byte
		config   []byte
		want     *Layout
		wantErr  string
	}{
		{"not native", manifest(2), config(map[string]string{"ostree.commit": "c"}, "d0", "d1"), nil, ""},
		{"commit layer only", manifest(1), config(map[string]string{LabelFinalDiffID: "d0", LabelCommit: "c"}, "d0"),
			&Layout{Commit: "c", FinalDiffID: "d0", Derived: 1}, ""},
		{"chunks and derived", manifest(5), config(map[string]string{LabelFinalDiffID: "d2"}, "d0", "d1", "d2", "d3", "d4"),
			&Layout{FinalDiffID: "d2", Chunks: []int{1, 2}, Derived: 3}, ""},
		{"unknown diff ID", manifest(2), config(map[string]string{LabelFinalDiffID: "dx"}, "d0", "d1"), nil, "names no layer"},
		{"diff ID twice", manifest(3), config(map[string]string{LabelFinalDiffID: "d1"}, "d0", "d1", "d1"), nil, "more than one layer"},
		{"count mismatch", manifest(3), config(map[string]string{LabelFinalDiffID: "d1"}, "d0", "d1"), nil, "diff IDs"},
		{"no layers", manifest(0), config(map[string]string{LabelFinalDiffID: "d1"}), nil, "no layers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLayout(tc.manifest, tc.config)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseObjectPath(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in, sum, ext string
		bad          bool
	}{
		{in: "ab/" + sum[2:] + ".file", sum: sum, ext: "file"},
		{in: "ab/" + sum[2:] + ".file-xattrs-link", sum: sum, ext: "file-xattrs-link"},
		{in: "ab/" + sum[2:] + ".file.xattrs", sum: sum, ext: "file.xattrs"},
		{in: "ab/" + sum[2:], bad: true},
		{in: "a/" + sum[1:] + ".file", bad: true},
		{in: "AB/" + strings.ToUpper(sum[2:]) + ".file", bad: true},
		{in: "ab/x/" + sum[2:] + ".file", bad: true},
	} {
		s, ext, err := parseObjectPath(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && (s != tc.sum || ext != tc.ext)) {
			t.Errorf("%s: got %s %s %v", tc.in, s, ext, err)
		}
	}
}
