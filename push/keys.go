package push

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// KeyFile is the name of the VAPID key file in the push directory.
const KeyFile = "vapid.json"

// KeyPair is a VAPID key pair (RFC 8292): a P-256 private scalar and the
// uncompressed public point, both base64url without padding.
type KeyPair struct {
	Private string `json:"private"`
	Public  string `json:"public"`
}

// keyFile is the file's content: the current pair, and the one it
// replaced (which signs the key-rotation messages: a subscription made
// for the old key accepts only messages signed with it).
type keyFile struct {
	Current  KeyPair  `json:"current"`
	Previous *KeyPair `json:"previous,omitempty"`
}

// Keys holds the server's VAPID keys; Reload picks up a rotation made by
// another process. Its methods are safe for concurrent use.
type Keys struct {
	path string
	mu   sync.RWMutex
	f    keyFile
}

// NewKeyPair makes a fresh P-256 pair.
func NewKeyPair() (KeyPair, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("push: generate VAPID key: %w", err)
	}
	return KeyPair{
		Private: base64.RawURLEncoding.EncodeToString(k.Bytes()),
		Public:  base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
	}, nil
}

// LoadKeys reads dir/vapid.json, generating it (mode 0600, dir 0700) when
// it does not exist; created reports that.
func LoadKeys(dir string) (k *Keys, created bool, err error) {
	k = &Keys{path: filepath.Join(dir, KeyFile)}
	err = k.Reload()
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	pair, err := NewKeyPair()
	if err != nil {
		return nil, false, err
	}
	k.f = keyFile{Current: pair}
	if err := k.write(); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// RotateKeys replaces the current pair of dir/vapid.json (made when
// missing) with a new one, keeping the old as the previous pair.
func RotateKeys(dir string) (*Keys, error) {
	k, created, err := LoadKeys(dir)
	if err != nil || created {
		return k, err
	}
	pair, err := NewKeyPair()
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.f.Current
	k.f = keyFile{Current: pair, Previous: &old}
	return k, k.write()
}

// Reload reads the key file again.
func (k *Keys) Reload() error {
	data, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("push: read VAPID keys: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("push: %s: %w", k.path, err)
	}
	for _, p := range []*KeyPair{&f.Current, f.Previous} {
		if p == nil {
			continue
		}
		if err := p.check(); err != nil {
			return fmt.Errorf("push: %s: %w", k.path, err)
		}
	}
	k.mu.Lock()
	k.f = f
	k.mu.Unlock()
	return nil
}

// check verifies that the pair's public key is its private key's.
func (p KeyPair) check() error {
	d, err := base64.RawURLEncoding.DecodeString(p.Private)
	if err != nil {
		return fmt.Errorf("VAPID private key: %w", err)
	}
	priv, err := ecdh.P256().NewPrivateKey(d)
	if err != nil {
		return fmt.Errorf("VAPID private key: %w", err)
	}
	if base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()) != p.Public {
		return errors.New("the VAPID public key is not the private key's")
	}
	return nil
}

// write stores the file atomically (a temporary file renamed over it).
func (k *Keys) write() error {
	dir := filepath.Dir(k.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	data, err := json.MarshalIndent(k.f, "", "  ")
	if err != nil {
		return fmt.Errorf("push: encode VAPID keys: %w", err)
	}
	tmp, err := os.CreateTemp(dir, KeyFile+".tmp*")
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("push: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("push: write VAPID keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("push: write VAPID keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("push: write VAPID keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), k.path); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	return nil
}

// Current returns the pair that signs messages.
func (k *Keys) Current() KeyPair {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.f.Current
}

// Previous returns the pair the last rotation replaced, if any.
func (k *Keys) Previous() (KeyPair, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.f.Previous == nil {
		return KeyPair{}, false
	}
	return *k.f.Previous, true
}

// Path returns the key file's path.
func (k *Keys) Path() string { return k.path }
