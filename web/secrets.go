package web

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ledgerdesk/models"
)

// Secrets are the portal's keys. They come from the environment; on the
// embedded default they are generated once into the data directory (mode
// 0600). They are never printed or logged.
type Secrets struct {
	SessionKey []byte // signs session cookies
	FieldKey   []byte // encrypts personal data at rest (AES-256)
	// OldFieldKeys still open values sealed before a key rotation.
	OldFieldKeys [][]byte
	// AuditSigningKey signs audit checkpoints (Ed25519).
	AuditSigningKey ed25519.PrivateKey
}

// FieldCipher seals with the current field key and opens with any key.
func (s Secrets) FieldCipher() (*models.FieldCipher, error) {
	return models.NewFieldCipher(s.FieldKey, s.OldFieldKeys...)
}

const (
	EnvSessionKey = "LEDGERDESK_SESSION_KEY"
	EnvFieldKey   = "LEDGERDESK_FIELD_KEY"
	// EnvOldFieldKeys lists retired field keys (hex, comma-separated).
	EnvOldFieldKeys = "LEDGERDESK_FIELD_KEYS_OLD"
	// EnvAuditSigningKey is the Ed25519 key that signs audit checkpoints:
	// its 32-byte seed (or the 64-byte private key), hex.
	EnvAuditSigningKey = "LEDGERDESK_AUDIT_SIGNING_KEY"
	secretsFile        = "secrets.json"
)

type secretsOnDisk struct {
	SessionKey string `json:"session_key"`
	FieldKey   string `json:"field_key"`
	// AuditSigningKey is an Ed25519 seed; files written before checkpoints
	// existed get one added.
	AuditSigningKey string `json:"audit_signing_key,omitempty"`
}

// LoadSecrets reads the keys from the environment (hex) and fills any that
// are missing from dataDir/secrets.json, creating it if needed.
func LoadSecrets(dataDir string, getenv func(string) string) (Secrets, error) {
	s, err := secretsFromEnv(getenv)
	if err != nil {
		return s, err
	}
	if s.SessionKey != nil && s.FieldKey != nil && s.AuditSigningKey != nil {
		return s, nil
	}
	if dataDir == "" {
		return s, fmt.Errorf("set %s and %s (hex, 32 bytes or more)", EnvSessionKey, EnvFieldKey)
	}
	disk, err := loadOrCreateSecretsFile(filepath.Join(dataDir, secretsFile))
	if err != nil {
		return s, err
	}
	if s.SessionKey == nil {
		s.SessionKey, _ = hex.DecodeString(disk.SessionKey)
	}
	if s.FieldKey == nil {
		s.FieldKey, _ = hex.DecodeString(disk.FieldKey)
	}
	if len(s.SessionKey) < 32 || len(s.FieldKey) < 32 {
		return s, fmt.Errorf("%s holds keys shorter than 32 bytes", filepath.Join(dataDir, secretsFile))
	}
	if s.AuditSigningKey == nil {
		if s.AuditSigningKey, err = signingKey(disk.AuditSigningKey); err != nil || s.AuditSigningKey == nil {
			return s, fmt.Errorf("%s holds no valid audit signing key", filepath.Join(dataDir, secretsFile))
		}
	}
	return s, nil
}

// CheckSecretsEnv says what is wrong with a key in the environment, the
// error LoadSecrets would return for it, without touching the disk.
func CheckSecretsEnv(getenv func(string) string) error {
	s, err := secretsFromEnv(getenv)
	if err != nil || (s.FieldKey == nil && s.OldFieldKeys == nil) {
		return err
	}
	// The field keys must also suit the cipher (32 bytes each); without a
	// current key in the environment, the old ones are tried beside a
	// stand-in for the generated one.
	current := s.FieldKey
	if current == nil {
		current = make([]byte, 32)
	}
	if _, err := models.NewFieldCipher(current, s.OldFieldKeys...); err != nil {
		return fmt.Errorf("%s, %s: %w", EnvFieldKey, EnvOldFieldKeys, err)
	}
	return nil
}

// secretsFromEnv reads the keys the environment sets; the others stay nil.
func secretsFromEnv(getenv func(string) string) (Secrets, error) {
	var s Secrets
	var err error
	if s.SessionKey, err = hexKey(EnvSessionKey, getenv(EnvSessionKey), 32); err != nil {
		return s, err
	}
	if s.FieldKey, err = hexKey(EnvFieldKey, getenv(EnvFieldKey), 32); err != nil {
		return s, err
	}
	for _, old := range strings.Split(getenv(EnvOldFieldKeys), ",") {
		if old = strings.TrimSpace(old); old == "" {
			continue
		}
		k, err := hexKey(EnvOldFieldKeys, old, 32)
		if err != nil {
			return s, err
		}
		s.OldFieldKeys = append(s.OldFieldKeys, k)
	}
	if s.AuditSigningKey, err = signingKey(getenv(EnvAuditSigningKey)); err != nil {
		return s, err
	}
	return s, nil
}

// signingKey reads an Ed25519 key given as its hex seed or private key.
func signingKey(value string) (ed25519.PrivateKey, error) {
	if value == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(value)
	switch {
	case err == nil && len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case err == nil && len(b) == ed25519.PrivateKeySize:
		key := ed25519.PrivateKey(b)
		if ed25519.NewKeyFromSeed(key.Seed()).Equal(key) {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%s must be an Ed25519 seed, 32 bytes hex encoded (openssl rand -hex 32)", EnvAuditSigningKey)
}

func hexKey(name, value string, min int) ([]byte, error) {
	if value == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(value)
	if err != nil || len(b) < min {
		return nil, fmt.Errorf("%s must be at least %d bytes, hex encoded (openssl rand -hex %d)", name, min, min)
	}
	return b, nil
}

func loadOrCreateSecretsFile(path string) (secretsOnDisk, error) {
	var d secretsOnDisk
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &d); err != nil {
			return d, fmt.Errorf("read %s: %w", path, err)
		}
		if d.AuditSigningKey == "" {
			return addSigningKey(path, d)
		}
		return d, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return d, fmt.Errorf("read %s: %w", path, err)
	}
	d = secretsOnDisk{SessionKey: models.RandomHex(32), FieldKey: models.RandomHex(32), AuditSigningKey: models.RandomHex(ed25519.SeedSize)}
	b, _ = json.MarshalIndent(d, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return d, err
	}
	// O_EXCL: if another process created the file first, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadOrCreateSecretsFile(path)
	}
	if err != nil {
		return d, fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return d, fmt.Errorf("write %s: %w", path, err)
	}
	return d, f.Sync()
}

// addSigningKey gives a secrets file from before audit checkpoints a
// signing key, replacing the file in one rename so it is never half
// written, then reads back what is there (another process may have won).
func addSigningKey(path string, d secretsOnDisk) (secretsOnDisk, error) {
	d.AuditSigningKey = models.RandomHex(ed25519.SeedSize)
	b, _ := json.MarshalIndent(d, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secrets-*.json")
	if err != nil {
		return d, fmt.Errorf("add audit signing key to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err = tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(b)
		if err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return d, fmt.Errorf("add audit signing key to %s: %w", path, err)
	}
	return loadOrCreateSecretsFile(path)
}
