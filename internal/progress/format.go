package progress

import (
	"fmt"
	"time"
)

// HumanBytes formats a byte count with binary units, as upstream's
// indicatif HumanBytes does: "512 B", "1.50 KiB", "12.34 MiB".
func HumanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	suffixes := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for v >= unit && i < len(suffixes)-1 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.2f %s", v, suffixes[i])
}

// HumanDuration formats a duration coarsely, in the largest whole unit:
// "0 seconds", "3 seconds", "1 minute", "2 hours".
func HumanDuration(d time.Duration) string {
	units := []struct {
		name string
		d    time.Duration
	}{
		{"day", 24 * time.Hour},
		{"hour", time.Hour},
		{"minute", time.Minute},
	}
	for _, u := range units {
		if d >= u.d {
			return plural(int64(d/u.d), u.name)
		}
	}
	return plural(int64(d.Round(time.Second)/time.Second), "second")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", unit)
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// rate returns bytes per second over d.
func rate(n uint64, d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(float64(n) / d.Seconds())
}
