//go:build tools

// Never compiled: it keeps CoreDNS's main package (and so its modules) in go.mod and go.sum.
package tools

import _ "github.com/coredns/coredns"
