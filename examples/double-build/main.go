// hello prints a greeting and the user it runs as: os/user makes cgo matter.
package main

import (
	"fmt"
	"os/user"
)

var version = "dev"

func main() {
	name := "world"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	fmt.Printf("hello, %s (version %s)\n", name, version)
}
