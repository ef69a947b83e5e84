package wifi

import (
	"context"
	"os/exec"

	"cpe/cpe/supervisor"
)

func dialRadio() (radio, error) {
	c, err := Dial()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// runProcess runs wpa_supplicant the way the supervisor runs any child:
// its own process group, SIGTERM then SIGKILL when ctx ends.
func runProcess(ctx context.Context, cmd *exec.Cmd) error {
	return (&supervisor.ProcessComponent{Cmd: cmd}).Run(ctx)
}
