package main

import (
	"errors"
	"fmt"
)

// errSoftReboot is the refusal of --soft-reboot=required.
var errSoftReboot = errors.New("--soft-reboot=required: soft reboots are not available: they need libostree's soft-reboot support (preparing the next deployment for systemctl soft-reboot), which libostree 2022.7 lacks; use --apply for a regular reboot, or omit --soft-reboot")

// softRebootFlag is upstream's --soft-reboot of switch, upgrade and rollback.
type softRebootFlag struct {
	SoftReboot string `name:"soft-reboot" enum:",required,auto" default:"" placeholder:"MODE" help:"Soft reboot into the new deployment (systemctl soft-reboot): required fails when unavailable, auto falls back to a regular reboot. Unavailable here: it needs libostree soft-reboot support that libostree 2022.7 lacks, so required is refused and auto reboots normally."`
}

// checkSoftReboot refuses --soft-reboot=required before anything changes, and says what
// --soft-reboot=auto falls back to.
func (f softRebootFlag) checkSoftReboot(d *Deps) error {
	switch f.SoftReboot {
	case "required":
		return errSoftReboot
	case "auto":
		fmt.Fprintln(d.Err, "Note: --soft-reboot=auto: soft reboots need libostree support that 2022.7 lacks; a regular reboot applies the change")
	}
	return nil
}
