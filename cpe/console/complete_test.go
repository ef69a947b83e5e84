package console

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestCandidates(t *testing.T) {
	tests := []struct {
		mode    Mode
		before  string
		want    []string // the words listed by ?
		partial string
		quoted  bool
		err     string
	}{
		{mode: Operational, before: "", want: []string{"configure", "confirm", "echo", "exit", "help", "quit", "reboot", "show"}},
		{mode: Operational, before: "sh", partial: "sh", want: []string{"show"}},
		{mode: Operational, before: "con", partial: "con", want: []string{"configure", "confirm"}},
		{mode: Operational, before: "zz", partial: "zz", want: nil},
		{mode: Operational, before: "show ", want: []string{"commits", "config", "log", "version"}},
		{mode: Operational, before: "show c", partial: "c", want: []string{"commits", "config"}},
		{mode: Operational, before: "sh ver ", want: []string{enterWord}},
		{mode: Operational, before: "show version x ", err: `"show version" takes no arguments`},
		{mode: Operational, before: "show config ", want: []string{enterWord, "mesh", "system", "wan"}},
		{mode: Operational, before: "show config wan ", want: []string{enterWord, "0", "<index>"}},
		{mode: Operational, before: "show config mesh ", want: []string{"enabled"}},
		{mode: Operational, before: "show log ", want: []string{enterWord}},
		{mode: Operational, before: "help ", want: []string{enterWord, "configure", "confirm", "echo", "exit", "help", "quit", "reboot", "show"}},
		{mode: Operational, before: "frob ", err: `unknown command "frob"`},
		{mode: Operational, before: "s ", want: []string{"commits", "config", "log", "version"}},
		{mode: Configure, before: "", want: []string{"commit", "compare", "confirm", "delete", "echo", "exit", "help", "quit", "rollback", "run", "set", "show", "top"}},
		{mode: Configure, before: "s ", err: `ambiguous "s": could be set, show`},
		{mode: Configure, before: "set ", want: []string{"mesh", "system", "wan"}},
		{mode: Configure, before: "set s", partial: "s", want: []string{"system"}},
		{mode: Configure, before: "set wan ", want: []string{enterWord, "0", "<index>"}},
		{mode: Configure, before: "set mesh ", want: []string{enterWord, "enabled"}},
		{mode: Configure, before: "set mesh enabled ", want: []string{enterWord, "true", "false"}},
		{mode: Configure, before: "delete wan ", want: []string{enterWord, "0", "<index>"}},
		{mode: Configure, before: "delete mesh ", want: []string{"enabled"}},
		{mode: Configure, before: "show mesh ", want: []string{"enabled", "|"}},
		{mode: Configure, before: "set wan 0 ", want: []string{enterWord, "dhcp6", "interface", "mode"}},
		{mode: Configure, before: "set wan 0 mode ", want: []string{"dhcp", "static"}},
		{mode: Configure, before: "set wan 0 mode s", partial: "s", want: []string{"static"}},
		{mode: Configure, before: "set wan 0 dhcp6 prefix_hint ", want: []string{"<integer 48..64>"}},
		{mode: Configure, before: "set wan 0 dhcp6 prefix_hint 5", partial: "5", want: []string{"<integer 48..64>"}},
		{mode: Configure, before: `set system hostname "my b`, partial: "my b", quoted: true, want: []string{"<string>"}},
		{mode: Configure, before: "delete ", want: []string{"mesh", "system", "wan"}},
		{mode: Configure, before: "show ", want: []string{enterWord, "mesh", "system", "wan", "|"}},
		{mode: Configure, before: "show | ", want: []string{"compare"}},
		{mode: Configure, before: "show |", want: []string{"compare"}},
		{mode: Configure, before: "show | c", partial: "c", want: []string{"compare"}},
		{mode: Configure, before: "show | compare ", want: []string{enterWord}},
		{mode: Configure, before: "compare ", want: []string{enterWord, "rollback"}},
		{mode: Configure, before: "commit ", want: []string{enterWord, "check", "comment", "confirmed"}},
		{mode: Configure, before: "commit confirmed ", want: []string{"<minutes 1..1440>"}},
		{mode: Configure, before: "commit confirmed 5 ", want: []string{enterWord, "comment"}},
		{mode: Configure, before: "rollback ", want: []string{"<N>"}},
		{mode: Configure, before: "run ", want: []string{"confirm", "echo", "help", "reboot", "show"}},
		{mode: Configure, before: "run sh", partial: "sh", want: []string{"show"}},
		{mode: Configure, before: "run show ", want: []string{"commits", "config", "log", "version"}},
		{mode: Configure, before: "run show config sys", partial: "sys", want: []string{"system"}},
		{mode: Configure, before: "echo | ", err: "pipes are only supported"},
		{mode: Configure, before: "# comment ", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+"/"+tt.before, func(t *testing.T) {
			s := newTestConsole(newFakeConfig(initialDoc), &recorder{}).NewSession()
			if tt.mode == Configure {
				s.Exec(context.Background(), "configure", &strings.Builder{})
			}
			cs, err := s.candidates(tt.before)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range cs.items {
				got = append(got, it.Word)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("words %q, want %q", got, tt.want)
			}
			if cs.partial != tt.partial || cs.quoted != tt.quoted {
				t.Errorf("partial %q quoted %v, want %q %v", cs.partial, cs.quoted, tt.partial, tt.quoted)
			}
			if cs.start+len(strings.TrimLeft(tt.before[cs.start:], `"`)) != len(tt.before) && !tt.quoted {
				t.Errorf("partial starts at %d in %q", cs.start, tt.before)
			}
		})
	}
}

// TestQuestionMark checks the listings that ? prints, with help and the
// schema's description, through Exec as a script or `cpe cli show ?` would.
func TestQuestionMark(t *testing.T) {
	ctx := context.Background()
	cfg := newFakeConfig(initialDoc)
	s := newTestConsole(cfg, &recorder{}).NewSession()
	got := transcript(ctx, s,
		"?",
		"sh?",
		"show ?",
		"show version ?",
		"frob ?",
		"configure",
		"set wan 0 ?",
		"set wan 0 dhcp6 prefix_hint ?",
		"set wan 0 mode st?",
		"commit ?",
		"show | ?",
		"set bogus ?",
	)
	checkGolden(t, "question_mark", got)
	if s.Mode() != Configure || len(cfg.callLog()) != 0 {
		t.Errorf("? ran something: mode %s, calls %q", s.Mode(), cfg.callLog())
	}
}
