package lab

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"
)

// BabeldDump asks the babeld running in n for its tables over its local
// interface (babeld -g port) and returns the fields of each "add …" line:
// "add route ID prefix P … metric M …", "add neighbour ID address A …".
func (n *Netns) BabeldDump(port int) ([][]string, error) {
	var out [][]string
	err := n.Do(func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("[::1]:%d", port), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		br := bufio.NewReader(c)
		dumped := false
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			f := strings.Fields(line)
			if len(f) == 1 && f[0] == "ok" {
				if dumped {
					return nil
				}
				dumped = true
				if _, err := c.Write([]byte("dump\n")); err != nil {
					return err
				}
				continue
			}
			if len(f) >= 3 && f[0] == "add" {
				out = append(out, f)
			}
		}
	})
	return out, err
}

// BabeldAttrs reads the "key value" pairs of a BabeldDump line after
// "add KIND ID".
func BabeldAttrs(f []string) map[string]string {
	kv := map[string]string{}
	for i := 3; i+1 < len(f); i += 2 {
		kv[f[i]] = f[i+1]
	}
	return kv
}
