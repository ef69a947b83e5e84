package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Set element patches go to the kernel as a batch of our own making, since
// the nftables library cannot tag a batch with the ruleset generation it
// was computed against (NFNL_BATCH_GENID). The kernel compares that
// generation under the mutex every commit holds and refuses the whole
// batch with ERESTART when anyone committed since: a patch applies to
// exactly the sets the Applier remembers or not at all, and after it the
// generation is ours plus one, without asking.

// errStale is a patch refused because someone else committed since our
// last commit.
var errStale = errors.New("firewall: the ruleset generation moved on")

// nftaSetElemKeyEnd is NFTA_SET_ELEM_KEY_END, which x/sys/unix lacks.
const nftaSetElemKeyEnd = 10

// chunks splits els into runs of at most maxElemsPerMsg elements, keeping
// an interval's start and end element in one run.
func chunks(s *nftables.Set, els []nftables.SetElement) [][]nftables.SetElement {
	var out [][]nftables.SetElement
	for len(els) > 0 {
		n := min(len(els), maxElemsPerMsg)
		if s.Interval && !s.Concatenation && n < len(els) && els[n].IntervalEnd {
			n++
		}
		out = append(out, els[:n])
		els = els[n:]
	}
	return out
}

// elemMsgs encodes adding (or deleting) els to the set s.
func elemMsgs(s *nftables.Set, els []nftables.SetElement, del bool) ([]netlink.Message, error) {
	typ, flags := unix.NFT_MSG_NEWSETELEM, netlink.Request|netlink.Acknowledge|netlink.Create
	if del {
		typ, flags = unix.NFT_MSG_DELSETELEM, netlink.Request|netlink.Acknowledge
	}
	value := func(data []byte) func(*netlink.AttributeEncoder) error {
		return func(ae *netlink.AttributeEncoder) error {
			ae.Bytes(unix.NFTA_DATA_VALUE, data)
			return nil
		}
	}
	var msgs []netlink.Message
	for _, run := range chunks(s, els) {
		ae := netlink.NewAttributeEncoder()
		ae.ByteOrder = binary.BigEndian
		ae.String(unix.NFTA_SET_ELEM_LIST_TABLE, s.Table.Name)
		ae.String(unix.NFTA_SET_ELEM_LIST_SET, s.Name)
		ae.Nested(unix.NFTA_SET_ELEM_LIST_ELEMENTS, func(ae *netlink.AttributeEncoder) error {
			for _, e := range run {
				ae.Nested(unix.NFTA_LIST_ELEM, func(ae *netlink.AttributeEncoder) error {
					ae.Nested(unix.NFTA_SET_ELEM_KEY, value(e.Key))
					if len(e.KeyEnd) > 0 {
						ae.Nested(nftaSetElemKeyEnd, value(e.KeyEnd))
					}
					if e.IntervalEnd {
						ae.Uint32(unix.NFTA_SET_ELEM_FLAGS, unix.NFT_SET_ELEM_INTERVAL_END)
					}
					return nil
				})
			}
			return nil
		})
		data, err := ae.Encode()
		if err != nil {
			return nil, fmt.Errorf("firewall: set %s: %w", s.Name, err)
		}
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | typ), Flags: flags},
			Data:   append(nfgenHeader(byte(s.Table.Family)), data...),
		})
	}
	return msgs, nil
}

// nfgenHeader is struct nfgenmsg for the nftables subsystem.
func nfgenHeader(family byte) []byte {
	return []byte{family, unix.NFNETLINK_V0, 0, 0}
}

// nextGen is the generation after gen: the kernel counts one up and skips
// zero.
func nextGen(gen uint32) uint32 {
	if gen+1 == 0 {
		return 1
	}
	return gen + 1
}

// sendPatch commits msgs in one batch that the kernel runs only while the
// ruleset generation is still gen.
func (a *Applier) sendPatch(msgs []netlink.Message, gen uint32) error {
	c, err := a.netlinkConn()
	if err != nil {
		return err
	}
	err = sendBatch(c, msgs, gen)
	if err != nil {
		// Whatever the kernel had still to say goes with the socket.
		a.nl.Close()
		a.nl = nil
	}
	return err
}

func sendBatch(c *netlink.Conn, msgs []netlink.Message, gen uint32) error {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.Uint32(unix.NFNL_BATCH_GENID, gen)
	genAttr, err := ae.Encode()
	if err != nil {
		return err
	}
	res := []byte{0, 0}
	binary.BigEndian.PutUint16(res, unix.NFNL_SUBSYS_NFTABLES)
	begin := append([]byte{unix.AF_UNSPEC, unix.NFNETLINK_V0}, res...)
	batch := make([]netlink.Message, 0, len(msgs)+2)
	batch = append(batch, netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: netlink.Request},
		Data:   append(begin, genAttr...),
	})
	// Only the last message asks for an acknowledgement: the kernel
	// reports every failing message anyway, and one answer on success is
	// a receive instead of one per message.
	for i, m := range msgs {
		if i < len(msgs)-1 {
			m.Header.Flags &^= netlink.Acknowledge
		} else {
			m.Header.Flags |= netlink.Acknowledge
		}
		batch = append(batch, m)
	}
	batch = append(batch, netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_END), Flags: netlink.Request},
		Data:   begin,
	})
	if _, err := c.SendMessages(batch); err != nil {
		return fmt.Errorf("firewall: send batch: %w", err)
	}
	// The kernel answers once the batch is committed, or with errors
	// (ERESTART for the whole batch when the generation moved on); after
	// an error the caller drops the socket with whatever else is queued.
	for {
		replies, err := c.Receive()
		if errors.Is(err, unix.ERESTART) {
			return errStale
		}
		if err != nil {
			return fmt.Errorf("firewall: commit: %w", err)
		}
		for _, m := range replies {
			if m.Header.Type == netlink.Error {
				return nil
			}
		}
	}
}
