package console

import (
	"errors"
	"fmt"
	"strings"
)

// token is one word of a command line.
type token struct {
	text   string
	pipe   bool // an unquoted "|"
	quoted bool // quotes appeared in it: Tab cannot extend it in place
	start  int  // byte offset of the raw token in the line
}

// lexed is a tokenized line.
type lexed struct {
	toks    []token
	comment bool
	open    bool // partial lexing only: the last token has an unterminated quote
	space   bool // the line is empty or ends in whitespace: the next word starts fresh
}

func isSpace(ch byte) bool {
	switch ch {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// lex splits a line into words: whitespace separates, single quotes take
// everything literally, double quotes allow backslash escapes (\" and \\;
// a backslash before any other byte keeps that byte), "|" outside quotes is
// a token of its own, "#" as the first non-blank starts a comment. Outside
// quotes a backslash is an ordinary byte, so values such as Windows-style
// paths need no doubling. With partial set (completion of a line being
// typed) an unterminated quote is not an error.
func lex(line string, partial bool) (lexed, error) {
	var lx lexed
	if strings.HasPrefix(strings.TrimLeft(line, " \t\n\r\v\f"), "#") {
		lx.comment = true
		return lx, nil
	}
	var (
		cur    strings.Builder
		inTok  bool
		quoted bool
		quote  byte
		start  int
	)
	flush := func() {
		if inTok {
			lx.toks = append(lx.toks, token{text: cur.String(), quoted: quoted, start: start})
		}
		cur.Reset()
		inTok, quoted = false, false
	}
	begin := func(i int) {
		if !inTok {
			inTok, start = true, i
		}
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case quote == '"':
			switch ch {
			case '\\':
				if i+1 == len(line) {
					// A trailing backslash escapes the end of the
					// line: the quote stays open.
					continue
				}
				i++
				cur.WriteByte(line[i])
			case '"':
				quote = 0
			default:
				cur.WriteByte(ch)
			}
		case isSpace(ch):
			flush()
		case ch == '|':
			flush()
			lx.toks = append(lx.toks, token{text: "|", pipe: true, start: i})
		case ch == '\'' || ch == '"':
			begin(i)
			quote, quoted = ch, true
		default:
			begin(i)
			cur.WriteByte(ch)
		}
	}
	if quote != 0 {
		if !partial {
			return lexed{}, fmt.Errorf("unterminated %c quote", quote)
		}
		lx.open = true
	}
	flush()
	lx.space = line == "" || (!lx.open && isSpace(line[len(line)-1]))
	return lx, nil
}

// tokenize returns the words of a line, pipes included as "|".
func tokenize(line string) ([]string, error) {
	lx, err := lex(line, false)
	if err != nil {
		return nil, err
	}
	words := make([]string, len(lx.toks))
	for i, t := range lx.toks {
		words[i] = t.text
	}
	return words, nil
}

// helpRequest reports whether line asks for help: it ends with an unquoted
// "?". before is the line without it.
func helpRequest(line string) (before string, ok bool) {
	trimmed := strings.TrimRight(line, " \t\n\r\v\f")
	before, ok = strings.CutSuffix(trimmed, "?")
	if !ok {
		return "", false
	}
	lx, err := lex(before, true)
	if err != nil || lx.open || lx.comment {
		return "", false
	}
	return before, true
}

// splitPipe separates the words before the pipe from those after it.
func splitPipe(toks []token) (words, pipe []string, hasPipe bool, err error) {
	for _, t := range toks {
		switch {
		case t.pipe && hasPipe:
			return nil, nil, false, errors.New("only one | is supported")
		case t.pipe:
			hasPipe = true
		case hasPipe:
			pipe = append(pipe, t.text)
		default:
			words = append(words, t.text)
		}
	}
	return words, pipe, hasPipe, nil
}

// checkPipe accepts "compare" or a prefix of it, the one pipe there is.
func checkPipe(pipe []string) error {
	if len(pipe) == 0 {
		return errors.New("missing command after |")
	}
	if len(pipe) == 1 && pipe[0] != "" && strings.HasPrefix("compare", pipe[0]) {
		return nil
	}
	return fmt.Errorf("unsupported pipe %q: only `| compare` is supported", "| "+strings.Join(pipe, " "))
}

// quoteWord quotes w so that lex gives it back as one literal word.
func quoteWord(w string) string {
	needs := w == "" || strings.HasPrefix(w, "#")
	for i := 0; i < len(w) && !needs; i++ {
		switch ch := w[i]; {
		case isSpace(ch), ch == '\'', ch == '"', ch == '\\', ch == '|', ch == '?':
			needs = true
		}
	}
	if !needs {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		if w[i] == '"' || w[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	b.WriteByte('"')
	return b.String()
}

// joinWords makes one command line of argv words (`cpe cli set system
// hostname "my box"`). A bare "|" or "?" word keeps its meaning: the shell
// already separated it, so the user meant the pipe or the help.
func joinWords(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w == "|" || w == "?" {
			out[i] = w
		} else {
			out[i] = quoteWord(w)
		}
	}
	return strings.Join(out, " ")
}
