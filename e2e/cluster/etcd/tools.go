//go:build tools

// Never compiled: it keeps etcd's main package (and so its modules) in go.mod and go.sum.
package tools

import _ "go.etcd.io/etcd/server/v3"
