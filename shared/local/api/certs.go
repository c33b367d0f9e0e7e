package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Credentials are the server's certificate and the clients' token, kept in the
// platform directory so that clients configured once keep working across
// restarts.
type Credentials struct {
	TLS      *tls.Config
	CertFile string // PEM; clients trust it
	Token    string
}

// Files in the platform directory (mode 0600).
const (
	certFile  = "api-cert.pem"
	keyFile   = "api-key.pem"
	tokenFile = "api-token.json"
)

// certLifetime is how long a certificate made here is valid; a certificate
// within a month of its end is made anew at start.
const certLifetime = 365 * 24 * time.Hour

// LoadOrCreate reads the certificate, key and token from dir, making whatever is
// missing (or a certificate about to expire).
func LoadOrCreate(dir string, now time.Time) (Credentials, error) {
	c := Credentials{CertFile: filepath.Join(dir, certFile)}
	cert, err := tls.LoadX509KeyPair(c.CertFile, filepath.Join(dir, keyFile))
	if err == nil && cert.Leaf != nil && now.Add(30*24*time.Hour).Before(cert.Leaf.NotAfter) {
		// usable
	} else {
		if cert, err = makeCert(dir, now); err != nil {
			return c, err
		}
	}
	c.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	tok, err := loadOrCreateToken(filepath.Join(dir, tokenFile))
	if err != nil {
		return c, err
	}
	c.Token = tok
	return c, nil
}

func makeCert(dir string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("api: make key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("api: make certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mlops local API", Organization: []string{"mlops"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own CA: clients trust exactly this certificate
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("api: make certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("api: encode key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := writePrivate(filepath.Join(dir, keyFile), keyPEM); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePrivate(filepath.Join(dir, certFile), certPEM); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func loadOrCreateToken(path string) (string, error) {
	var t struct {
		Token string `json:"token"`
	}
	b, err := os.ReadFile(path)
	if err == nil {
		if json.Unmarshal(b, &t) != nil || len(t.Token) < 32 {
			return "", fmt.Errorf("api token file %s is damaged; remove it to make a new token", path)
		}
		return t.Token, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("api: read token: %w", err)
	}
	t.Token = rand.Text() + rand.Text() // 260 bits
	b, _ = json.Marshal(t)
	if err := writePrivate(path, b); err != nil {
		return "", err
	}
	return t.Token, nil
}

// writePrivate writes a file only its owner can read, atomically.
func writePrivate(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("api: write %s: %w", path, err)
	}
	return nil
}

// ClientTLS is the TLS configuration of a client that trusts the certificate in
// certFile (and nothing else).
func ClientTLS(certFile string) (*tls.Config, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("api: read certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("api: %s holds no certificate", certFile)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}
