package console

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestFlows runs whole configure sessions, compares what the user saw with
// golden transcripts and checks what reached the Configurator.
func TestFlows(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*fakeConfig)
		between func(*fakeConfig) // after the first half of lines
		lines   []string
		more    []string
		calls   []string
		running []string // substrings of the final running configuration
		mode    Mode
	}{
		{
			name: "commit",
			lines: []string{
				"configure",
				"set system hostname r1",
				"set wan 1 interface eth1",
				"set wan 1 dhcp6 prefix_hint 56",
				"show wan 1",
				"compare",
				"show | compare",
				"show wan | compare",
				"commit comment first setup",
				"compare",
				"exit",
				"show config system",
			},
			calls:   []string{`commit "first setup" within=0s`},
			running: []string{`"hostname": "r1"`, `"prefix_hint": 56`},
			mode:    Operational,
		},
		{
			name: "invalid",
			lines: []string{
				"configure",
				"set wan 1 mode static",
				"set system hostname bad",
				"commit",
				"commit check",
				"exit",
				"delete wan 1",
				"set system hostname ok",
				"commit check",
				"compare",
				"exit discard",
			},
			calls:   nil,
			running: []string{`"hostname": "cpe"`},
			mode:    Operational,
		},
		{
			name: "confirmed",
			lines: []string{
				"confirm",
				"configure",
				"set mesh enabled",
				"commit confirmed 0",
				"commit confirmed 1441",
				"commit confirmed x",
				"commit confirmed 5 note",
				"commit confirmed 5 comment",
				"commit confirmed 5 comment trying the mesh",
				"confirm",
				"exit",
				"confirm",
			},
			calls:   []string{"confirm", `commit "trying the mesh" within=5m0s`, "confirm", "confirm"},
			running: []string{`"enabled": true`},
			mode:    Operational,
		},
		{
			name: "rollback",
			setup: func(f *fakeConfig) {
				f.external(strings.Replace(initialDoc, `"cpe"`, `"second"`, 1))
			},
			lines: []string{
				"configure",
				"compare rollback 1",
				"rollback 1",
				"compare",
				"exit",
				"rollback 9",
				"rollback -1",
				"compare rollback x",
				"commit comment back to the first",
				"rollback 0",
				"exit",
			},
			calls:   []string{`commit "back to the first" within=0s`},
			running: []string{`"hostname": "cpe"`},
			mode:    Operational,
		},
		{
			name:  "running_changed",
			lines: []string{"configure", "set system hostname mine"},
			between: func(f *fakeConfig) {
				f.external(strings.Replace(initialDoc, `"cpe"`, `"theirs"`, 1))
			},
			more:    []string{"compare", "commit", "compare"},
			calls:   []string{`commit "" within=0s`},
			running: []string{`"hostname": "mine"`},
			mode:    Configure,
		},
		{
			name: "run_and_help",
			lines: []string{
				"help",
				"configure",
				"help",
				"help comm",
				"show version",
				"run show version",
				"run sh log 3",
				"run configure",
				"run reboot",
				"reboot",
				"configure",
				"top",
				"exit",
				"exit",
				"exit",
			},
			calls: nil,
			mode:  Operational,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := newFakeConfig(initialDoc)
			if tt.setup != nil {
				tt.setup(cfg)
			}
			rec := &recorder{}
			s := newTestConsole(cfg, rec).NewSession()
			got := transcript(ctx, s, tt.lines...)
			if tt.between != nil {
				tt.between(cfg)
			}
			got += transcript(ctx, s, tt.more...)
			checkGolden(t, "flow_"+tt.name, got)
			if calls := cfg.callLog(); !slices.Equal(calls, tt.calls) {
				t.Errorf("configurator calls %q, want %q", calls, tt.calls)
			}
			running := string(cfg.Running())
			for _, want := range tt.running {
				if !strings.Contains(running, want) {
					t.Errorf("running configuration lacks %s:\n%s", want, running)
				}
			}
			if s.Mode() != tt.mode {
				t.Errorf("ends in %s mode, want %s", s.Mode(), tt.mode)
			}
		})
	}
}

// TestSet covers how set tells a value from a block or a flag, and that a
// failed set leaves the candidate alone.
func TestSet(t *testing.T) {
	tests := []struct {
		line   string
		plain  bool   // the Schema does not wrap ErrNotLeaf
		path   string // Get after the set
		want   string // JSON at path, or the error
		errors bool
	}{
		{line: "set mesh", path: "mesh", want: "{}"},
		{line: "set mesh enabled", path: "mesh enabled", want: "true"},
		{line: "set mesh enabled false", path: "mesh enabled", want: "false"},
		{line: "set wan 0 dhcp6 prefix_hint 56", path: "wan 0 dhcp6 prefix_hint", want: "56"},
		{line: `set system hostname "my box"`, path: "system hostname", want: `"my box"`},
		{line: `set system hostname "what?"`, path: "system hostname", want: `"what?"`},
		{line: "set wan 1", path: "wan 1", want: "{}"},
		{line: "set wan 0 dhcp6 prefix_hint 99", errors: true, want: "wan[0].dhcp6.prefix_hint: must be between 48 and 64"},
		{line: "set wan 0 mode pppoe", errors: true, want: "wan[0].mode: must be one of dhcp, static"},
		{line: "set mesh bogus", errors: true, want: `mesh: unknown field "bogus"`},
		{line: "set mesh bogus", plain: true, errors: true, want: "mesh: is a block, give one of its fields"},
		{line: "set system hostname", errors: true, want: "system.hostname: needs a value"},
		{line: "set system hostname", plain: true, errors: true, want: "system.hostname: needs a value"},
		{line: "set nope 1", errors: true, want: `(top): unknown field "nope"`},
		{line: "set nope", errors: true, want: `(top): unknown field "nope"`},
		{line: "set wan 7 mode dhcp", errors: true, want: `wan: "7" is not an index 0..1`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			ctx := context.Background()
			cfg := newFakeConfig(initialDoc)
			c := New(fakeSchema{plainErrors: tt.plain}, cfg, nil, Options{})
			s := c.NewSession()
			s.Exec(ctx, "configure", &strings.Builder{})
			before := s.Candidate()
			var out strings.Builder
			err := s.Exec(ctx, tt.line, &out)
			if tt.errors {
				if err == nil || err.Error() != tt.want || out.String() != "error: "+tt.want+"\n" {
					t.Fatalf("err = %v, output %q; want error %q", err, out.String(), tt.want)
				}
				if !slices.Equal(s.Candidate(), before) {
					t.Errorf("a failed set changed the candidate")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := fakeSchema{}.Get(s.Candidate(), strings.Fields(tt.path))
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(got)) != tt.want {
				t.Errorf("%s = %s, want %s", tt.path, got, tt.want)
			}
		})
	}
}

func TestExitRefusesUncommittedChanges(t *testing.T) {
	ctx := context.Background()
	s := newTestConsole(newFakeConfig(initialDoc), &recorder{}).NewSession()
	for _, l := range []string{"configure", "set system hostname x"} {
		if err := s.Exec(ctx, l, &strings.Builder{}); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	if err := s.Exec(ctx, "exit", &out); err == nil || s.Mode() != Configure {
		t.Fatalf("exit with changes: err %v, mode %s", err, s.Mode())
	}
	if want := "error: uncommitted changes: commit them, or `exit discard`\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	// Setting the value back makes the candidate equal to what it was
	// taken from, whatever the formatting: exit is allowed again.
	if err := s.Exec(ctx, "set system hostname cpe", &out); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "exit", &out); err != nil || s.Mode() != Operational {
		t.Fatalf("exit without changes: err %v, mode %s", err, s.Mode())
	}
	if s.Candidate() != nil {
		t.Errorf("operational mode has a candidate")
	}
}

func TestSocketSessionExitEnds(t *testing.T) {
	ctx := context.Background()
	c := newTestConsole(newFakeConfig(initialDoc), &recorder{})
	s := c.NewSession()
	s.Exec(ctx, "configure", &strings.Builder{})
	s.Exec(ctx, "exit", &strings.Builder{})
	if s.Ended() {
		t.Fatal("exit from configure mode ended the session")
	}
	s.Exec(ctx, "quit", &strings.Builder{})
	if !s.Ended() {
		t.Fatal("quit in operational mode did not end the session")
	}
	serial := c.newSession("serial", false)
	serial.Exec(ctx, "exit", &strings.Builder{})
	if serial.Ended() {
		t.Fatal("exit ended a serial session")
	}
}

func TestSameDoc(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`{"a":1}`, `{ "a" : 1 }` + "\n", true},
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{`{"a":1}`, `{"a":2}`, false},
		{`{"a":1}`, `{"a":1.0}`, false},
		{``, ``, true},
		{`not json`, `not json`, true},
		{`not json`, `{}`, false},
	}
	for _, tt := range tests {
		if got := sameDoc([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("sameDoc(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// TestRegisteredLongerCommandWins: a registered command whose words extend
// another registered command that takes arguments stays reachable.
func TestRegisteredLongerCommandWins(t *testing.T) {
	var ran []string
	cmd := func(name string) func(context.Context, *Session, []string, io.Writer) error {
		return func(_ context.Context, _ *Session, args []string, _ io.Writer) error {
			ran = append(ran, name+strings.Join(args, ","))
			return nil
		}
	}
	c := New(fakeSchema{}, newFakeConfig(`{}`), []Command{
		{Words: []string{"show", "wan"}, Args: "[N]", Run: cmd("wan:")},
		{Words: []string{"show", "wan", "history"}, Args: "[N]", Run: cmd("history:")},
	}, Options{})
	s := c.NewSession()
	for _, line := range []string{"show wan 1", "show wan history", "sh wan hist 0"} {
		if err := s.Exec(context.Background(), line, io.Discard); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	if got, want := strings.Join(ran, " "), "wan:1 history: history:0"; got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
}
