package installconfig

import (
	"bytes"
	"encoding/json"
)

func orNull[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// jsonValue builds the serialized form upstream's serde derives produce:
// kebab-case keys, unset values as null, except `kargs` and `karg-deletes`
// (omitted when unset) and `ostree.bls-append-except-default` (omitted when
// unset).
func (c *Config) jsonValue() map[string]any {
	m := map[string]any{
		"root-fs-type":                orNull(c.RootFSType),
		"block":                       nil,
		"filesystem":                  nil,
		"match-architectures":         nil,
		"ostree":                      nil,
		"stateroot":                   orNull(c.Stateroot),
		"root-mount-spec":             orNull(c.RootMountSpec),
		"boot-mount-spec":             orNull(c.BootMountSpec),
		"bootupd":                     nil,
		"bootloader":                  orNull(c.Bootloader),
		"discoverable-partitions":     orNull(c.DiscoverablePartitions),
		"enforce-container-sigpolicy": orNull(c.EnforceContainerSigpolicy),
	}
	if c.Block != nil {
		m["block"] = c.Block
	}
	if c.Filesystem != nil {
		fs := map[string]any{"root": nil}
		if c.Filesystem.Root != nil {
			fs["root"] = map[string]any{"type": orNull(c.Filesystem.Root.Type)}
		}
		m["filesystem"] = fs
	}
	if c.Kargs != nil {
		m["kargs"] = c.Kargs
	}
	if c.KargDeletes != nil {
		m["karg-deletes"] = c.KargDeletes
	}
	if c.MatchArchitectures != nil {
		m["match-architectures"] = c.MatchArchitectures
	}
	if c.Ostree != nil {
		o := map[string]any{}
		if c.Ostree.BLSAppendExceptDefault != nil {
			o["bls-append-except-default"] = *c.Ostree.BLSAppendExceptDefault
		}
		m["ostree"] = o
	}
	if c.Bootupd != nil {
		m["bootupd"] = map[string]any{"skip-boot-uuid": orNull(c.Bootupd.SkipBootUUID)}
	}
	return m
}

// CanonicalJSON returns the compact JSON `bootc install print-configuration`
// prints: sorted keys, no insignificant whitespace, no trailing newline, and
// no HTML escaping.
func (c *Config) CanonicalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c.jsonValue()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
