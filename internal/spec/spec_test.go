package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

func ptr[T any](v T) *T { return &v }

// bootedWithUpdate is the state of upstream's spec-booted-with-update
// fixture as a live host reports it (store set, as our status code sets it).
func bootedWithUpdate() *Host {
	ref := ImageReference{Image: "quay.io/centos-bootc/centos-bootc:stream9", Transport: "registry"}
	h := NewHost(HostSpec{Image: ptr(ref)})
	h.Status = HostStatus{
		Booted: &BootEntry{
			Image: &ImageStatus{
				Image:        ref,
				Version:      ptr("stream9.20240807.0"),
				Timestamp:    ptr(time.Date(2024, 8, 7, 12, 0, 0, 0, time.UTC)),
				ImageDigest:  "sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38",
				Architecture: "arm64",
			},
			CachedUpdate: &ImageStatus{
				Image:        ref,
				Version:      ptr("stream9.20240901.0"),
				Timestamp:    ptr(time.Date(2024, 9, 1, 12, 0, 0, 0, time.UTC)),
				ImageDigest:  "sha256:" + strings.Repeat("a0", 32),
				Architecture: "arm64",
			},
			Store: ptr(StoreOstreeContainer),
			Ostree: &BootEntryOstree{
				Checksum:  "439f6bd2e2361bee292c1f31840d798c5ac5ba76483b8021dc9f7b0164ac0f48",
				Stateroot: "default",
			},
		},
		Type: ptr(HostTypeBootcHost),
	}
	return h
}

// TestJSONMatchesUpstreamExample reproduces byte for byte the JSON that
// reference/upstream.md section 2 gives for this state.
func TestJSONMatchesUpstreamExample(t *testing.T) {
	want := `{"apiVersion":"org.containers.bootc/v1","kind":"BootcHost","metadata":{"name":"host"},` +
		`"spec":{"bootOrder":"default","image":{"image":"quay.io/centos-bootc/centos-bootc:stream9","transport":"registry"}},` +
		`"status":{"booted":{` +
		`"cachedUpdate":{"architecture":"arm64","image":{"image":"quay.io/centos-bootc/centos-bootc:stream9","transport":"registry"},` +
		`"imageDigest":"sha256:` + strings.Repeat("a0", 32) + `","timestamp":"2024-09-01T12:00:00Z","version":"stream9.20240901.0"},` +
		`"composefs":null,"downloadOnly":false,` +
		`"image":{"architecture":"arm64","image":{"image":"quay.io/centos-bootc/centos-bootc:stream9","transport":"registry"},` +
		`"imageDigest":"sha256:47e5ed613a970b6574bfa954ab25bb6e85656552899aa518b5961d9645102b38",` +
		`"timestamp":"2024-08-07T12:00:00Z","version":"stream9.20240807.0"},` +
		`"incompatible":false,` +
		`"ostree":{"checksum":"439f6bd2e2361bee292c1f31840d798c5ac5ba76483b8021dc9f7b0164ac0f48","deploySerial":0,"stateroot":"default"},` +
		`"pinned":false,"softRebootCapable":false,"store":"ostreeContainer"},` +
		`"readOnly":false,"rollback":null,"rollbackQueued":false,"staged":null,"type":"bootcHost","usrOverlay":null}}`
	var b bytes.Buffer
	if err := RenderJSON(&b, bootedWithUpdate()); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// encoding/json goes through the same writer.
	got, err := json.Marshal(bootedWithUpdate())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("json.Marshal differs:\n%s", got)
	}
	// And it parses back to the same host.
	h, err := ParseJSON([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	if err := RenderJSON(&b2, h); err != nil {
		t.Fatal(err)
	}
	if b2.String() != want {
		t.Errorf("round trip differs:\n%s", b2.String())
	}
}

func TestNewHostDefaults(t *testing.T) {
	var b bytes.Buffer
	if err := RenderYAML(&b, NewHost(HostSpec{})); err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: org.containers.bootc/v1
kind: BootcHost
metadata:
  name: host
spec:
  image: null
  bootOrder: default
status:
  staged: null
  booted: null
  rollback: null
  rollbackQueued: false
  type: null
  usrOverlay: null
  readOnly: false
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSignatureForms(t *testing.T) {
	doc := func(sig string) string {
		return "apiVersion: org.containers.bootc/v1\nkind: BootcHost\nspec:\n  image:\n    image: quay.io/a/b:c\n    transport: registry\n    signature: " + sig + "\n"
	}
	jdoc := func(sig string) string {
		return `{"apiVersion":"org.containers.bootc/v1","kind":"BootcHost","spec":{"image":{"image":"quay.io/a/b:c","transport":"registry","signature":` + sig + `}}}`
	}
	tests := []struct {
		name    string
		yaml    string
		json    string
		want    *ImageSignature
		wantYAM string // rendered YAML value
		wantJSN string // rendered JSON value
	}{
		{"tagged remote", doc(`!ostreeRemote "fedora"`), jdoc(`{"ostreeRemote":"fedora"}`), OstreeRemoteSignature("fedora"), "!ostreeRemote fedora", `{"ostreeRemote":"fedora"}`},
		{"mapping remote", doc(`{ostreeRemote: fedora}`), jdoc(`{"ostreeRemote":"fedora"}`), OstreeRemoteSignature("fedora"), "!ostreeRemote fedora", `{"ostreeRemote":"fedora"}`},
		{"block mapping remote", doc("\n      ostreeRemote: fedora"), "", OstreeRemoteSignature("fedora"), "!ostreeRemote fedora", `{"ostreeRemote":"fedora"}`},
		{"numeric remote name", doc(`!ostreeRemote "123"`), jdoc(`{"ostreeRemote":"123"}`), OstreeRemoteSignature("123"), "!ostreeRemote '123'", `{"ostreeRemote":"123"}`},
		{"container policy", doc("containerPolicy"), jdoc(`"containerPolicy"`), ContainerPolicySignature(), "containerPolicy", `"containerPolicy"`},
		{"insecure", doc("insecure"), jdoc(`"insecure"`), InsecureSignature(), "insecure", `"insecure"`},
		{"null", doc("null"), jdoc("null"), nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := func(h *Host, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				got := h.Spec.Image.Signature
				if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
					t.Fatalf("signature = %+v, want %+v", got, tc.want)
				}
				var y, j bytes.Buffer
				if err := RenderYAML(&y, h); err != nil {
					t.Fatal(err)
				}
				if err := RenderJSON(&j, h); err != nil {
					t.Fatal(err)
				}
				if tc.want == nil {
					if strings.Contains(y.String(), "signature") || strings.Contains(j.String(), "signature") {
						t.Errorf("nil signature rendered:\n%s\n%s", y.String(), j.String())
					}
					return
				}
				if !strings.Contains(y.String(), "    signature: "+tc.wantYAM+"\n") {
					t.Errorf("YAML lacks %q:\n%s", tc.wantYAM, y.String())
				}
				if !strings.Contains(j.String(), `"signature":`+tc.wantJSN+`,`) {
					t.Errorf("JSON lacks %q:\n%s", tc.wantJSN, j.String())
				}
			}
			check(ParseYAML([]byte(tc.yaml)))
			if tc.json != "" {
				check(ParseJSON([]byte(tc.json)))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const head = "apiVersion: org.containers.bootc/v1\nkind: BootcHost\n"
	tests := []struct {
		name string
		yaml string
		json string
		want string
	}{
		{"empty", "", "", "empty document"},
		{"no apiVersion", "kind: BootcHost\n", `{"kind":"BootcHost"}`, "missing field apiVersion"},
		{"no kind", "apiVersion: org.containers.bootc/v1\n", `{"apiVersion":"x"}`, "missing field kind"},
		{"bad boot order", head + "spec:\n  bootOrder: sideways\n", `{"apiVersion":"a","kind":"b","spec":{"bootOrder":"sideways"}}`, `unknown spec.bootOrder "sideways"`},
		{"unknown signature", head + "spec:\n  image: {image: a, transport: registry, signature: maybe}\n", `{"apiVersion":"a","kind":"b","spec":{"image":{"image":"a","transport":"registry","signature":"maybe"}}}`, `unknown signature "maybe"`},
		{"unknown signature tag", head + "spec:\n  image: {image: a, transport: registry, signature: !gpg x}\n", "", `unknown signature "gpg"`},
		{"unknown signature key", head + "spec:\n  image: {image: a, transport: registry, signature: {gpg: x}}\n", `{"apiVersion":"a","kind":"b","spec":{"image":{"image":"a","transport":"registry","signature":{"gpg":"x"}}}}`, `unknown signature "gpg"`},
		{"empty remote", head + "spec:\n  image: {image: a, transport: registry, signature: !ostreeRemote ''}\n", `{"apiVersion":"a","kind":"b","spec":{"image":{"image":"a","transport":"registry","signature":{"ostreeRemote":""}}}}`, "empty ostree remote"},
		{"no transport", head + "spec:\n  image: {image: a}\n", `{"apiVersion":"a","kind":"b","spec":{"image":{"image":"a"}}}`, "without transport"},
		{"no image", head + "spec:\n  image: {transport: registry}\n", `{"apiVersion":"a","kind":"b","spec":{"image":{"transport":"registry"}}}`, "without image"},
		{"bad timestamp", head + "status:\n  booted:\n    image: {image: {image: a, transport: registry}, timestamp: yesterday, imageDigest: d, architecture: a}\n    incompatible: false\n    pinned: false\n", `{"apiVersion":"a","kind":"b","status":{"booted":{"image":{"image":{"image":"a","transport":"registry"},"timestamp":"yesterday","imageDigest":"d","architecture":"a"}}}}`, `invalid timestamp "yesterday"`},
		{"bad overlay", head + "status:\n  usrOverlay: {accessMode: sometimes, persistence: transient}\n", `{"apiVersion":"a","kind":"b","status":{"usrOverlay":{"accessMode":"sometimes","persistence":"transient"}}}`, `unknown usrOverlay accessMode "sometimes"`},
		{"two documents", head + "---\n" + head, "", "more than one document"},
		{"wrong type", head + "spec: [1]\n", `{"apiVersion":"a","kind":"b","spec":[1]}`, "spec"},
		{"trailing JSON", "", `{"apiVersion":"a","kind":"b"} {}`, "invalid character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.yaml != "" || tc.name == "empty" {
				_, err := ParseYAML([]byte(tc.yaml))
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("ParseYAML error = %v, want one containing %q", err, tc.want)
				}
			}
			if tc.json != "" {
				_, err := ParseJSON([]byte(tc.json))
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("ParseJSON error = %v, want one containing %q", err, tc.want)
				}
			}
		})
	}
}

func TestParseTolerance(t *testing.T) {
	// Unknown fields anywhere, missing optional fields, the old apiVersion,
	// timestamps with an offset (converted to UTC) and a version that YAML
	// would read as a number.
	doc := `apiVersion: org.containers.bootc/v1alpha1
kind: BootcHost
futureTopLevel: {a: 1}
metadata: {name: host, uid: 1234}
spec:
  image: {image: quay.io/a/b:1, transport: registry, futureField: x}
status:
  booted:
    image:
      image: {image: quay.io/a/b:1, transport: registry}
      version: 1.10
      timestamp: 2024-01-01 10:00:00+02:00
      imageDigest: sha256:aa
      architecture: amd64
      layers: 3
    incompatible: false
    pinned: false
    newFlag: true
  somethingNew: []
`
	h, err := ParseYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	img := h.Status.Booted.Image
	if *img.Version != "1.10" {
		t.Errorf("version = %q", *img.Version)
	}
	if want := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC); !img.Timestamp.Equal(want) || img.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp = %v", img.Timestamp)
	}
	if h.Spec.BootOrder != BootOrderDefault {
		t.Errorf("bootOrder = %q", h.Spec.BootOrder)
	}
	if h.APIVersion != APIVersionV1Alpha1 {
		t.Errorf("apiVersion = %q", h.APIVersion)
	}
	var y bytes.Buffer
	if err := RenderYAML(&y, h); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"      version: '1.10'\n", "      timestamp: 2024-01-01T08:00:00Z\n"} {
		if !strings.Contains(y.String(), want) {
			t.Errorf("YAML lacks %q:\n%s", want, y.String())
		}
	}
}

func TestYAMLNeedsQuotes(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", true}, {"~", true}, {"null", true}, {"Null", true}, {"NULL", true}, {"nULL", false},
		{"true", true}, {"False", true}, {"yes", false}, {"on", false}, {"y", false},
		{"0", true}, {"42", true}, {"-42", true}, {"+42", true}, {"++42", false}, {"+-42", false},
		{"0123", true}, {"-0123", true}, {"00", true}, {"0", true},
		{"0x1F", true}, {"0xg", false}, {"-0x1f", true}, {"+0x1f", true}, {"0x", false}, {"0o17", true}, {"0b101", true}, {"0b2", false},
		{"1.5", true}, {"1.", true}, {".5", true}, {"+.5", true}, {"-1.5e3", true}, {"1e5", true}, {"1e", false}, {".", false},
		{"1e400", false}, {"20231230.1", true}, {"1.0.0", false}, {"1_000", false},
		{".inf", true}, {"-.inf", true}, {"+.inf", true}, {".nan", true}, {"inf", false}, {"nan", false}, {"infinity", false},
		{"340282366920938463463374607431768211455", true}, // u128::MAX
		{"340282366920938463463374607431768211456", true}, // too big for an integer, still a float
		{"2024-08-07T12:00:00Z", false}, {"nightly", false}, {"stream9.20240807.0", false},
		{"sha256:abc", false}, {"/var/mnt", false}, {"a b", false},
	}
	for _, tc := range tests {
		if got := yamlNeedsQuotes(tc.in); got != tc.want {
			t.Errorf("yamlNeedsQuotes(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestYAMLScalarRendering(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain", "v: plain\n"},
		{"2024-08-07T12:00:00Z", "v: 2024-08-07T12:00:00Z\n"},
		{"1.0", "v: '1.0'\n"},
		{"", "v: ''\n"},
		{"a: b", "v: 'a: b'\n"},
		{"- x", "v: '- x'\n"},
		{"it's", "v: it's\n"},
		{"#x", "v: '#x'\n"},
		{"two\nlines", "v: |-\n  two\n  lines\n"},
		{"ünï ●", "v: ünï ●\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		if err := encodeYAML(&b, object{{"v", tc.in}}); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%q rendered as %q, want %q", tc.in, b.String(), tc.want)
		}
		var back struct {
			V string `yaml:"v"`
		}
		if err := yaml.Unmarshal(b.Bytes(), &back); err != nil || back.V != tc.in {
			t.Errorf("%q read back as %q (%v)", tc.in, back.V, err)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{object{{"b", int64(1)}, {"a", []any{true, false, nil}}}, `{"a":[true,false,null],"b":1}`},
		{object{{"nested", object{{"z", object{}}, {"y", []any{}}}}}, `{"nested":{"y":[],"z":{}}}`},
		{tagged{"ostreeRemote", "fedora"}, `{"ostreeRemote":"fedora"}`},
		// RFC 8785 section 3.2.3: sorting by UTF-16 code units.
		{object{{"\u20ac", "Euro Sign"}, {"\r", "Carriage Return"}, {"\ufb33", "Hebrew Letter Dalet With Dagesh"}, {"1", "One"}, {"\U0001f600", "Emoji: Grinning Face"}, {"\u0080", "Control"}, {"\u00f6", "Latin Small Letter O With Diaeresis"}},
			`{"\r":"Carriage Return","1":"One","` + "\u0080" + `":"Control","` + "\u00f6" + `":"Latin Small Letter O With Diaeresis","` + "\u20ac" + `":"Euro Sign","` + "\U0001f600" + `":"Emoji: Grinning Face","` + "\ufb33" + `":"Hebrew Letter Dalet With Dagesh"}`},
		// Escapes: only what must be.
		{[]any{"<>&\u2028/\u001f\u007f\b\t\n\f\r\"\\"}, `["<>&` + "\u2028" + `/\u001f` + "\x7f" + `\b\t\n\f\r\"\\"]`},
		{[]any{"bad \xff utf-8"}, `["bad ` + "\ufffd" + ` utf-8"]`},
		// Integers (the tree holds deploy serials).
		{[]any{int64(0), int64(-1), int64(9007199254740991)}, `[0,-1,9007199254740991]`},
	}
	for _, tc := range tests {
		got, err := marshalCanonical(tc.in)
		if err != nil {
			t.Errorf("marshalCanonical(%#v): %v", tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("marshalCanonical(%#v)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestTimestampFormats(t *testing.T) {
	tests := []struct {
		in          time.Time
		json, human string
	}{
		{time.Date(2024, 8, 7, 12, 0, 0, 0, time.UTC), "2024-08-07T12:00:00Z", "2024-08-07T12:00:00Z"},
		{time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), "2023-01-01T00:00:00Z", "2023-01-01T00:00:00Z"},
		{time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), "2025-12-31T23:59:59Z", "2025-12-31T23:59:59Z"},
		{time.Date(2024, 6, 15, 10, 30, 45, 123_456_789, time.UTC), "2024-06-15T10:30:45.123456789Z", "2024-06-15T10:30:45Z"},
		{time.Date(2023, 10, 14, 19, 22, 15, 420_000_000, time.UTC), "2023-10-14T19:22:15.420Z", "2023-10-14T19:22:15Z"},
		{time.Date(2023, 10, 14, 19, 22, 15, 1_000, time.UTC), "2023-10-14T19:22:15.000001Z", "2023-10-14T19:22:15Z"},
		{time.Date(2024, 1, 1, 10, 0, 0, 0, time.FixedZone("+02", 7200)), "2024-01-01T08:00:00Z", "2024-01-01T08:00:00Z"},
	}
	for _, tc := range tests {
		if got := formatTimestamp(tc.in); got != tc.json {
			t.Errorf("formatTimestamp(%v) = %s, want %s", tc.in, got, tc.json)
		}
		if got := humanTimestamp(tc.in); got != tc.human {
			t.Errorf("humanTimestamp(%v) = %s, want %s", tc.in, got, tc.human)
		}
		back, err := parseTimestamp(tc.json)
		if err != nil || !back.Equal(tc.in) {
			t.Errorf("parseTimestamp(%s) = %v, %v", tc.json, back, err)
		}
	}
	for _, ok := range []string{"2024-08-07t12:00:00z", "2024-08-07 12:00:00Z", "2024-08-07T12:00:00.5+01:00"} {
		if _, err := parseTimestamp(ok); err != nil {
			t.Errorf("parseTimestamp(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "2024-08-07", "yesterday", "2024-08-07T12:00:00"} {
		if _, err := parseTimestamp(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseTimestamp(%q) error = %v", bad, err)
		}
	}
}

func TestComputeTransition(t *testing.T) {
	a := &ImageReference{Image: "quay.io/a/b:1", Transport: "registry"}
	b := &ImageReference{Image: "quay.io/a/b:2", Transport: "registry"}
	aSigned := &ImageReference{Image: "quay.io/a/b:1", Transport: "registry", Signature: ContainerPolicySignature()}
	tests := []struct {
		name             string
		current, desired HostSpec
		want             Transition
		wantErr          error
	}{
		{"unchanged", HostSpec{Image: a, BootOrder: BootOrderDefault}, HostSpec{Image: ptr(*a), BootOrder: BootOrderDefault}, TransitionNone, nil},
		{"unchanged, missing boot order", HostSpec{Image: a, BootOrder: BootOrderDefault}, HostSpec{Image: a}, TransitionNone, nil},
		{"unchanged without image", HostSpec{}, HostSpec{BootOrder: BootOrderDefault}, TransitionNone, nil},
		{"image", HostSpec{Image: a}, HostSpec{Image: b}, TransitionImage, nil},
		{"signature only", HostSpec{Image: a}, HostSpec{Image: aSigned}, TransitionImage, nil},
		{"first image", HostSpec{}, HostSpec{Image: a}, TransitionImage, nil},
		{"rollback", HostSpec{Image: a}, HostSpec{Image: a, BootOrder: BootOrderRollback}, TransitionRollback, nil},
		{"undo rollback", HostSpec{Image: a, BootOrder: BootOrderRollback}, HostSpec{Image: a}, TransitionRollback, nil},
		{"both", HostSpec{Image: a}, HostSpec{Image: b, BootOrder: BootOrderRollback}, TransitionNone, ErrInvalidTransition},
		{"image removed", HostSpec{Image: a}, HostSpec{}, TransitionNone, ErrMissingImage},
		{"rollback without image", HostSpec{}, HostSpec{BootOrder: BootOrderRollback}, TransitionNone, ErrMissingImage},
		{"invalid desired", HostSpec{Image: a}, HostSpec{Image: a, BootOrder: "later"}, TransitionNone, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ComputeTransition(tc.current, tc.desired)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("transition = %v, want %v", got, tc.want)
			}
		})
	}
	if ErrInvalidTransition.Error() != "Invalid state transition: rollback and image change" {
		t.Errorf("message changed: %q", ErrInvalidTransition)
	}
}

// TestEditFlow: the YAML we print, edited the way a person would, parses
// and yields the expected transition.
func TestEditFlow(t *testing.T) {
	h := bootedWithUpdate()
	var b bytes.Buffer
	if err := RenderYAML(&b, h); err != nil {
		t.Fatal(err)
	}
	edits := []struct {
		old, new string
		want     Transition
	}{
		{"", "", TransitionNone},
		{"  bootOrder: default", "  bootOrder: rollback", TransitionRollback},
		{"    image: quay.io/centos-bootc/centos-bootc:stream9\n    transport: registry\n  bootOrder",
			"    image: quay.io/centos-bootc/centos-bootc:stream10\n    transport: registry\n    signature: !ostreeRemote centos\n  bootOrder", TransitionImage},
	}
	for _, e := range edits {
		text := strings.Replace(b.String(), e.old, e.new, 1)
		if e.old != "" && text == b.String() {
			t.Fatalf("edit %q did not apply", e.old)
		}
		edited, err := ParseYAML([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ComputeTransition(h.Spec, edited.Spec)
		if err != nil || got != e.want {
			t.Errorf("edit %q: transition %v, %v; want %v", e.new, got, err, e.want)
		}
	}
}

func TestRenderOptions(t *testing.T) {
	h := parseInput(t, "testdata/input/staged-booted.yaml")
	h.Status.Rollback = h.Status.Staged
	h.Status.OtherDeployments = []BootEntry{*h.Status.Booted}

	for _, v := range []int{0, 1} {
		if err := CheckFormatVersion(v); err != nil {
			t.Errorf("CheckFormatVersion(%d): %v", v, err)
		}
	}
	for _, v := range []int{-1, 2, 3} {
		err := CheckFormatVersion(v)
		if err == nil || !strings.Contains(err.Error(), "Unsupported format version") {
			t.Errorf("CheckFormatVersion(%d) = %v", v, err)
		}
		if err := Render(&bytes.Buffer{}, h, FormatJSON, RenderOptions{FormatVersion: v}); err == nil {
			t.Errorf("Render accepted format version %d", v)
		}
	}

	var full, booted bytes.Buffer
	if err := Render(&full, h, FormatJSON, RenderOptions{FormatVersion: 1}); err != nil {
		t.Fatal(err)
	}
	if err := Render(&booted, h, FormatJSON, RenderOptions{Booted: true}); err != nil {
		t.Fatal(err)
	}
	if h.Status.Staged == nil || h.Status.Rollback == nil {
		t.Fatal("Render modified the host")
	}
	var got Host
	if err := json.Unmarshal(booted.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Staged != nil || got.Status.Rollback != nil || got.Status.Booted == nil || len(got.Status.OtherDeployments) != 1 {
		t.Errorf("--booted kept the wrong entries: %s", booted.String())
	}
	if bytes.Equal(full.Bytes(), booted.Bytes()) {
		t.Error("--booted changed nothing")
	}

	for _, f := range Formats {
		var out bytes.Buffer
		if err := Render(&out, h, f, RenderOptions{Verbose: true}); err != nil || out.Len() == 0 {
			t.Errorf("Render(%s): %v, %d bytes", f, err, out.Len())
		}
		if p, err := ParseFormat(string(f)); err != nil || p != f {
			t.Errorf("ParseFormat(%s) = %v, %v", f, p, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat accepted xml")
	}
	if err := Render(&bytes.Buffer{}, h, "xml", RenderOptions{}); err == nil {
		t.Error("Render accepted xml")
	}
	if DefaultFormat(true) != FormatHumanReadable || DefaultFormat(false) != FormatYAML {
		t.Error("DefaultFormat")
	}
}

func TestFilterToSlot(t *testing.T) {
	for _, slot := range []Slot{SlotStaged, SlotBooted, SlotRollback} {
		h := NewHost(HostSpec{})
		s, b, r := &BootEntry{}, &BootEntry{}, &BootEntry{}
		h.Status.Staged, h.Status.Booted, h.Status.Rollback = s, b, r
		h.FilterToSlot(slot)
		want := map[Slot]*BootEntry{SlotStaged: s, SlotBooted: b, SlotRollback: r}
		got := map[Slot]*BootEntry{SlotStaged: h.Status.Staged, SlotBooted: h.Status.Booted, SlotRollback: h.Status.Rollback}
		for k := range want {
			if (k == slot) != (got[k] != nil) {
				t.Errorf("FilterToSlot(%s): %s = %v", slot, k, got[k])
			}
		}
	}
}

func TestUsrOverlayFromUnlocked(t *testing.T) {
	tests := []struct {
		state string
		want  *FilesystemOverlay
		text  string
	}{
		{"none", nil, ""},
		{"", nil, ""},
		{"development", &FilesystemOverlay{OverlayReadWrite, OverlayTransient}, "transient, read/write"},
		{"hotfix", &FilesystemOverlay{OverlayReadWrite, OverlayPersistent}, "persistent, read/write"},
		{"transient", &FilesystemOverlay{OverlayReadOnly, OverlayTransient}, "transient, read-only"},
	}
	for _, tc := range tests {
		got := UsrOverlayFromUnlocked(tc.state)
		if (got == nil) != (tc.want == nil) || (got != nil && (*got != *tc.want || got.String() != tc.text)) {
			t.Errorf("UsrOverlayFromUnlocked(%q) = %v", tc.state, got)
		}
	}
}

func TestSubtypeMarshalling(t *testing.T) {
	sig := OstreeRemoteSignature("fedora")
	j, err := json.Marshal(ImageReference{Image: "a", Transport: "registry", Signature: sig})
	if err != nil || string(j) != `{"image":"a","signature":{"ostreeRemote":"fedora"},"transport":"registry"}` {
		t.Errorf("ImageReference JSON = %s, %v", j, err)
	}
	var back ImageReference
	if err := json.Unmarshal(j, &back); err != nil || !back.Equal(&ImageReference{Image: "a", Transport: "registry", Signature: sig}) {
		t.Errorf("ImageReference JSON round trip = %+v, %v", back, err)
	}
	y, err := yaml.Marshal(ImageReference{Image: "a", Transport: "registry", Signature: sig})
	if err != nil || string(y) != "image: a\ntransport: registry\nsignature: !ostreeRemote fedora\n" {
		t.Errorf("ImageReference YAML = %q, %v", y, err)
	}
	if _, err := json.Marshal(ImageSignature{Kind: "gpg"}); err == nil {
		t.Error("invalid signature marshalled")
	}
	if _, err := yaml.Marshal(ImageSignature{}); err == nil {
		t.Error("invalid signature marshalled to YAML")
	}
	var e BootEntry
	if err := json.Unmarshal([]byte(`{"pinned":true,"ostree":{"stateroot":"s","checksum":"c","deploySerial":3}}`), &e); err != nil {
		t.Fatal(err)
	}
	j, err = json.Marshal(e)
	if err != nil || string(j) != `{"cachedUpdate":null,"composefs":null,"downloadOnly":false,"image":null,"incompatible":false,"ostree":{"checksum":"c","deploySerial":3,"stateroot":"s"},"pinned":true,"softRebootCapable":false,"store":null}` {
		t.Errorf("BootEntry JSON = %s, %v", j, err)
	}
}

func TestEmptyAndComposefsRendering(t *testing.T) {
	h := &Host{APIVersion: APIVersion, Kind: Kind}
	h.Status.Booted = &BootEntry{Composefs: &BootEntryComposefs{Verity: "ab", BootType: "Uki", Bootloader: "systemd", MissingVerityAllowed: true}}
	var y, j bytes.Buffer
	if err := RenderYAML(&y, h); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&j, h); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"metadata: {}\n", "    composefs:\n      verity: ab\n      bootType: Uki\n      bootloader: systemd\n      bootDigest: null\n      missingVerityAllowed: true\n"} {
		if !strings.Contains(y.String(), want) {
			t.Errorf("YAML lacks %q:\n%s", want, y.String())
		}
	}
	for _, want := range []string{`"metadata":{}`, `"composefs":{"bootDigest":null,"bootType":"Uki","bootloader":"systemd","missingVerityAllowed":true,"verity":"ab"}`} {
		if !strings.Contains(j.String(), want) {
			t.Errorf("JSON lacks %q:\n%s", want, j.String())
		}
	}
	back, err := ParseYAML(y.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c := back.Status.Booted.Composefs; c == nil || *c != *h.Status.Booted.Composefs {
		t.Errorf("composefs round trip = %+v", c)
	}
	back, err = ParseJSON(j.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c := back.Status.Booted.Composefs; c == nil || *c != *h.Status.Booted.Composefs {
		t.Errorf("composefs JSON round trip = %+v", c)
	}
}
