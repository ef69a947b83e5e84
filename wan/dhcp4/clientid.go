package dhcp4

import (
	"encoding/binary"
	"net"
)

// ClientIDFromDUID returns the RFC 4361 client identifier (option 61): type
// 255, the IAID, then the DUID. This is the recommended form: the ISP sees
// the same identity over DHCPv4 and DHCPv6, and it survives a replaced NIC.
// The DUID and IAID must be the ones kept in the state directory, so the
// identifier is the same across restarts.
func ClientIDFromDUID(iaid uint32, duid []byte) []byte {
	id := make([]byte, 0, 5+len(duid))
	id = append(id, 0xff)
	id = binary.BigEndian.AppendUint32(id, iaid)
	return append(id, duid...)
}

// ClientIDFromMAC returns the classic client identifier: hardware type 1
// (Ethernet) then the MAC address (RFC 2132 9.14). It is what the client
// sends when Config.ClientID is empty, and stays stable as long as the MAC.
func ClientIDFromMAC(mac net.HardwareAddr) []byte {
	return append([]byte{1}, mac...)
}
