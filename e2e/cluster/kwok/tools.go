//go:build tools

// Never compiled: it keeps kwok's command (and so its modules) in go.mod and go.sum.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
