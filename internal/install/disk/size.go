package disk

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses a size as `--root-size` takes it: a positive integer
// with an optional unit M (mebibytes, the default), G (gibibytes) or T
// (tebibytes); "MiB", "GiB", "TiB" are accepted too. It returns bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := MiB
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"MiB", MiB}, {"GiB", GiB}, {"TiB", TiB}, {"M", MiB}, {"G", GiB}, {"T", TiB}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q: want a positive integer with an optional unit M, G or T", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}
