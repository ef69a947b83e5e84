// Package wifi owns the box's 802.11s mesh point: it creates the mesh
// point interface and joins the mesh through nl80211, turns the radio's
// per-peer statistics into Babel link costs, and reports peer links the
// kernel closes so that Babel drops those neighbours at once.
//
// What was chosen, and why:
//
//   - Layer 3 routes, not 802.11s. The mesh is joined with
//     NL80211_MESHCONF_FORWARDING=0: Babel decides the paths between
//     boxes, and HWMP path selection would otherwise build a second,
//     hidden routing layer underneath it, relaying frames through radios
//     Babel believes are not in the path and hiding multi-hop paths
//     behind what looks like one link. NL80211_MESHCONF_NOLEARN=1 makes
//     mac80211 send to a direct neighbour over its peer link rather than
//     flood a path request first, which is all a box needs when every
//     destination at layer 2 is a neighbour.
//   - Open mesh: NL80211_CMD_JOIN_MESH with automatic peer link opening,
//     on a 20 MHz channel without HT (the one width every 802.11 radio
//     peers on; the beacon interval is the kernel's).
//   - Mesh key: peer links are authenticated with SAE and keyed with
//     AMPE, both of which mac80211 leaves to user space. wpa_supplicant in mesh
//     mode (mode=5) does it, as a child process supervised like any other
//     (cpe/supervisor); it joins the mesh itself, with its RSN element
//     and its peering state machine, so JOIN_MESH is not sent. It is
//     told not to forward (mesh_fwding=0) and to stay at 20 MHz without
//     HT (disable_ht=1) like the open mesh; it has no no-learn option, so
//     NL80211_CMD_SET_MESH_CONFIG sets it once the mesh is joined. SAE is
//     a security protocol with a long history of side-channel fixes; the
//     implementation every mac80211 driver is tested against is the one
//     to run.
//   - Link cost: Cost turns the MAC layer's retries and failures (an ETX
//     over transmissions, not over Hellos) and the rate control's
//     expected throughput into a cost on Babel's scale; Babel takes the
//     larger of it and its own Hello-based cost, with hysteresis.
//   - Peer addresses: a peer's MAC address is mapped to the IPv6
//     link-local address its kernel derives by EUI-64 (LinkLocal). That
//     is an assumption (addr_gen_mode eui64, no stable secret on the
//     peer's mesh interface) that the Babel side may check against the
//     neighbours it hears.
//   - Station statistics are read with this package's own
//     NL80211_CMD_GET_STATION dump, because github.com/mdlayher/wifi's
//     StationInfo has neither the expected throughput nor the peer link
//     state; radios and interfaces come from that library.
package wifi
