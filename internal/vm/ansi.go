package vm

// cleaner removes terminal control sequences (CSI, OSC, two-byte escapes), \r
// and other control characters except \n, \t and \b from a byte stream. It keeps
// state between writes, so a sequence split across reads is still removed and
// earlier output never changes: Expect's offsets stay valid.
type cleaner struct {
	out   []byte
	state int
}

const (
	stNormal = iota
	stEsc
	stCSI
	stOSC
	stOSCEsc
)

func (c *cleaner) write(p []byte) {
	for _, b := range p {
		switch c.state {
		case stNormal:
			switch {
			case b == 0x1b:
				c.state = stEsc
			case b == '\n' || b == '\t' || b == '\b' || b >= 0x20 && b != 0x7f:
				c.out = append(c.out, b)
			}
		case stEsc:
			switch b {
			case '[':
				c.state = stCSI
			case ']':
				c.state = stOSC
			default:
				c.state = stNormal // a two-byte sequence such as ESC 7 or ESC =
			}
		case stCSI:
			if b >= 0x40 && b <= 0x7e {
				c.state = stNormal
			}
		case stOSC:
			switch b {
			case 0x07:
				c.state = stNormal
			case 0x1b:
				c.state = stOSCEsc
			}
		case stOSCEsc:
			c.state = stNormal
		}
	}
}

// Clean returns s without terminal control sequences and carriage returns.
func Clean(s string) string {
	var c cleaner
	c.write([]byte(s))
	return string(c.out)
}
