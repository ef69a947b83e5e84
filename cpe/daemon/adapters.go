package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/console"
	"cpe/cpe/store"
)

// schema adapts cpe/config's path editing to the console.
type schema struct{}

func (schema) Set(doc []byte, path []string, value string) ([]byte, error) {
	out, err := config.Set(doc, path, value)
	if errors.Is(err, config.ErrNotLeaf) {
		return nil, fmt.Errorf("%w: %w", console.ErrNotLeaf, err)
	}
	return out, err
}
func (schema) Delete(doc []byte, path []string) ([]byte, error) { return config.Delete(doc, path) }
func (schema) Get(doc []byte, path []string) ([]byte, error)    { return config.Get(doc, path) }
func (schema) Describe(path []string) (string, error)           { return config.Describe(path) }
func (schema) Check(doc []byte) error {
	if errs := config.Check(doc); len(errs) > 0 {
		return errs
	}
	return nil
}
func (schema) Complete(doc []byte, path []string) []console.Completion {
	var out []console.Completion
	for _, c := range config.Complete(doc, path) {
		out = append(out, console.Completion{Word: c.Word, Help: c.Help})
	}
	return out
}

// configurator gives the console the store and the applier.
type configurator struct{ d *Daemon }

func (c configurator) Running() []byte { return c.d.store.Running().Config }

func (c configurator) Revision(back int) ([]byte, error) {
	rev, err := c.d.store.Revision(back)
	if err != nil {
		return nil, err
	}
	return rev.Config, nil
}

func (c configurator) Commit(_ context.Context, doc []byte, comment string, within time.Duration) (string, error) {
	rev, err := c.d.commit(doc, comment, within)
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("commit complete: revision %d", rev.Seq)
	if within > 0 {
		msg += fmt.Sprintf("; rolls back at %s unless confirmed", rev.ConfirmBy.Format(time.TimeOnly))
	}
	return msg, nil
}

func (c configurator) Confirm(context.Context) (string, error) {
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	if err := c.d.store.Confirm(); err != nil {
		return "", err
	}
	c.d.wakeTimer()
	return fmt.Sprintf("commit confirmed: revision %d stays", c.d.store.Running().Seq), nil
}

func (c configurator) Diff(oldName, newName string, a, b []byte) string {
	return store.Diff(oldName, newName, a, b)
}
