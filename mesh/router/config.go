package router

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"

	"cpe/cpe/config"
	"cpe/cpe/store"
	"cpe/mesh/babel"
)

// Options converts the mesh configuration into engine options. Every
// interface gets every key: the keys are the mesh's, and several of them
// let a rotation overlap.
func Options(c config.Mesh) (babel.Options, error) {
	var o babel.Options
	o.RouterID = babel.RouterID(c.RouterID)
	var keys []babel.Key
	for _, k := range c.Keys {
		secret, err := hex.DecodeString(k.Secret)
		if err != nil {
			return o, fmt.Errorf("router: key %s: %w", k.ID, err)
		}
		keys = append(keys, babel.Key{ID: k.ID, Secret: secret})
	}
	for _, mi := range c.Interfaces {
		ifo := babel.Interface{
			Name:           mi.Interface,
			Type:           babel.Wireless,
			HelloInterval:  mi.HelloInterval.D(),
			UpdateInterval: mi.UpdateInterval.D(),
			Keys:           keys,
		}
		if mi.Type == "wired" {
			ifo.Type = babel.Wired
		}
		// The configured cost is babeld's rxcost: the nominal cost of
		// hearing a neighbour on this link, which the neighbour pays to
		// reach us (wired) or which ETX scales (wireless). Boxes of one
		// mesh share the configuration, so links come out symmetric.
		if mi.Cost < 0 || mi.Cost >= int(babel.Infinity) {
			return o, fmt.Errorf("router: %s: cost %d out of range", mi.Interface, mi.Cost)
		}
		ifo.RxCost = uint16(mi.Cost)
		o.Interfaces = append(o.Interfaces, ifo)
	}
	return o, nil
}

// LoadState reads the state file; a missing file is the zero State (a
// box that never ran Babel, or lost its state).
func LoadState(path string) (babel.State, error) {
	st, err := store.ReadJSON[babel.State](path)
	if errors.Is(err, fs.ErrNotExist) {
		return babel.State{}, nil
	}
	if err != nil {
		return babel.State{}, fmt.Errorf("router: %w", err)
	}
	return st, nil
}

// StateSaver returns a Config.SaveState writing the state file atomically.
func StateSaver(path string) func(babel.State) error {
	return func(st babel.State) error { return store.WriteJSON(path, st, 0o600) }
}
