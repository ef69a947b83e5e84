package dhcp6

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// duidEpoch is where DUID-LLT time counts from (RFC 8415 11.2).
var duidEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// NewDUID makes the server identifier: a DUID-LLT (RFC 8415 11.2) from an
// Ethernet address and the time, the form RFC 8415 recommends for a device
// with stable storage, or a DUID-UUID (RFC 6355) read from rnd when there
// is no Ethernet address. The caller keeps it for ever: a server whose
// DUID changes looks like another server to every client.
func NewDUID(mac net.HardwareAddr, now time.Time, rnd io.Reader) ([]byte, error) {
	if len(mac) == 6 {
		d := binary.BigEndian.AppendUint16(nil, uint16(dhcpv6.DUID_LLT))
		d = binary.BigEndian.AppendUint16(d, uint16(iana.HWTypeEthernet))
		d = binary.BigEndian.AppendUint32(d, uint32(now.Sub(duidEpoch)/time.Second))
		return append(d, mac...), nil
	}
	var u [16]byte
	if _, err := io.ReadFull(rnd, u[:]); err != nil {
		return nil, fmt.Errorf("dhcp6: DUID: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return append(binary.BigEndian.AppendUint16(nil, uint16(dhcpv6.DUID_UUID)), u[:]...), nil
}
