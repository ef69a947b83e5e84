// Package mesh holds the box's links to neighbouring boxes: Babel
// (mesh/babel, mesh/router) and the 802.11s mesh point it runs over
// (mesh/wifi). Its own tests run boxes against each other and against
// babeld in network namespaces.
package mesh
