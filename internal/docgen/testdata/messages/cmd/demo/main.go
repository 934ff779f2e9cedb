package main

import "errors"

func main() { _ = errors.New("no kubeconfig was found; set KUBECONFIG") }
