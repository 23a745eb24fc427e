package ostree_test

import (
	"testing"

	"github.com/bootc-go/bootc/ostree"
)

func TestKeyFile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		edit    func(*ostree.KeyFile)
		want    string
		wantErr bool
	}{
		{
			name: "origin round trip",
			in:   "[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x:1\n",
			edit: func(*ostree.KeyFile) {},
			want: "[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x:1\n",
		},
		{
			name: "comments and groups kept, key replaced in place",
			in:   "# head\n[origin]\n# note\nrefspec=a:b\nother=1\n\n[rpmostree]\nx=y\n",
			edit: func(kf *ostree.KeyFile) { kf.Set("origin", "refspec", "c:d") },
			want: "# head\n\n[origin]\n# note\nrefspec=c:d\nother=1\n\n[rpmostree]\nx=y\n",
		},
		{
			name: "new group and key, removal",
			in:   "[origin]\nrefspec=a\n",
			edit: func(kf *ostree.KeyFile) {
				kf.Remove("origin", "refspec")
				kf.Set("origin", "container-image-reference", "r")
				kf.Set("libostree-transient", "k", " lead\ttab")
			},
			// GLib escapes leading white space only: the tab inside the value stays a tab.
			want: "[origin]\ncontainer-image-reference=r\n\n[libostree-transient]\nk=\\slead\ttab\n",
		},
		{name: "key outside group", in: "k=v\n", wantErr: true},
		{name: "malformed group", in: "[origin\nk=v\n", wantErr: true},
		{name: "line without =", in: "[g]\njunk\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kf, err := ostree.ParseKeyFile(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(kf)
			if got := kf.String(); got != tt.want {
				t.Fatalf("got:\n%q\nwant:\n%q", got, tt.want)
			}
			again, err := ostree.ParseKeyFile(kf.String())
			if err != nil || again.String() != tt.want {
				t.Fatalf("re-parse: %v %q", err, again.String())
			}
		})
	}
	kf, _ := ostree.ParseKeyFile("[g]\nk=\\sa\\nb\\\\c\n")
	if v, ok := kf.Get("g", "k"); !ok || v != " a\nb\\c" {
		t.Fatalf("Get unescape = %q %v", v, ok)
	}
	if _, ok := kf.Get("g", "missing"); ok {
		t.Fatal("missing key reported set")
	}
	if got := kf.Groups(); len(got) != 1 || got[0] != "g" {
		t.Fatalf("Groups = %v", got)
	}
}
