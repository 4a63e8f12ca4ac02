// Package controlplane holds modelgate's xDS control plane: the command in
// cmd/controlplane, the wiring in internal/app, and the catalog-to-snapshot
// pipeline in internal/xds (see README.md, Control plane).
package controlplane
