// Package trainer holds the platform's reference trainer, train.py: the Python +
// XGBoost 1.7 program that turns a dataset version (canonical CSV partitions), its
// contract and a model spec into a model bundle (shared/bundle). trainer/README.md
// is its container contract; trainer/Dockerfile builds the GPU image AWS Batch runs.
package trainer

import _ "embed"

// Script is train.py. The local platform writes it to disk and runs it with
// /usr/bin/python3 (Debian's python3-xgboost), followed by the container
// contract's arguments (training.ContractArgs); its hash identifies the local
// trainer the way an image digest does in AWS.
//
//go:embed train.py
var Script []byte
