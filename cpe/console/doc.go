// Package console owns the command line of the box: the grammar of the
// operational and configure modes (commit, commit confirmed, rollback,
// compare), completion and help, the line editor of the serial console, and
// the same sessions over a unix socket for `cpe cli`.
//
// # Sessions
//
// A session starts in operational mode (prompt "cpe> "). `configure` copies
// the running configuration into a private candidate (prompt "cpe# ");
// set/delete edit it through the Schema, commit checks the whole candidate
// and hands it to the Configurator. Command words may be abbreviated to a
// unique prefix; configuration paths are typed in full (Tab completes
// them). In configure mode, `show` takes a configuration path, so registered
// `show ...` commands are reached with `run show ...`. Session.Exec prints
// "error: ..." itself and returns the error.
//
// Words are separated by blanks; single quotes take text literally, double
// quotes allow \" and \\; "|" outside quotes is a word of its own (only
// `show [PATH...] | compare` uses it); a line whose first non-blank is "#"
// is a comment. An unquoted "?" at the end of a line lists what may come
// next instead of running it, so a value ending in "?" must be quoted.
//
// `set PATH... VALUE` is first tried as a value for the path without its
// last word; when the Schema refuses, as the path itself with value ""
// (which creates a block or turns on a flag). When both fail, the error
// shown is the path reading's if the value reading failed with ErrNotLeaf
// or the last word is one of Complete's words for the path, else the value
// reading's. Schema.Set must therefore refuse "" for a leaf that needs a
// value.
//
// # Socket protocol
//
// The client connects to the unix socket and sends one JSON line:
//
//	{"version":1,"mode":"exec","lines":["configure","set system hostname r1","commit"]}
//	{"version":1,"mode":"interactive"}
//
// In exec mode the server runs the lines in one session, in order, and
// stops at the first line that fails. It streams the output as JSON lines
// and ends with the exit code:
//
//	{"out":"commit complete: revision 7\n"}
//	{"exit":0}
//
// exit is 0 when every line succeeded, 1 when one failed, 2 for a bad
// request. Error messages are part of "out". A session still in configure
// mode at the end loses its uncommitted changes, with a warning.
//
// In interactive mode everything after the request line is a raw byte
// stream in both directions: the client's keystrokes in, the line editor's
// screen out ("\r\n" line ends, ANSI cursor sequences). The server closes
// the connection when the session ends (`exit` in operational mode, Ctrl-D
// on an empty line, the client's half-close).
package console
