package models

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// FieldCipher encrypts personal values at rest with AES-256-GCM. Each
// stored value names the key that sealed it, so keys can rotate: new values
// use the current key, old ones still open with theirs.
type FieldCipher struct {
	current string
	keys    map[string]cipher.AEAD
	ids     []string // current first, then the older keys as configured
}

// KeyID names a key by a short hash of it, so the id stored beside a
// value says nothing about the key itself.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("ledgerdesk-field-key:"), key...))
	return hex.EncodeToString(sum[:4])
}

// NewFieldCipher uses current for new values and also opens values sealed
// with any of older.
func NewFieldCipher(current []byte, older ...[]byte) (*FieldCipher, error) {
	fc := &FieldCipher{keys: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, older...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("field key %d: want 32 bytes, got %d", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		if _, dup := fc.keys[id]; !dup {
			fc.ids = append(fc.ids, id)
		}
		fc.keys[id] = aead
		if i == 0 {
			fc.current = id
		}
	}
	return fc, nil
}

// CurrentKeyID is the id stored beside values sealed now.
func (fc *FieldCipher) CurrentKeyID() string { return fc.current }

// KeyIDs lists the ids of the configured keys, the current one first.
func (fc *FieldCipher) KeyIDs() []string { return append([]string(nil), fc.ids...) }

// Has reports whether the key with this id is configured, so values it
// sealed open.
func (fc *FieldCipher) Has(keyID string) bool {
	_, ok := fc.keys[keyID]
	return ok
}

// Seal encrypts plaintext; context (the record and field) is bound as
// additional data, so a value copied to another record or field won't open.
func (fc *FieldCipher) Seal(plaintext, context string) string {
	if plaintext == "" {
		return ""
	}
	aead := fc.keys[fc.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return base64.RawStdEncoding.EncodeToString(out)
}

var errCannotOpen = errors.New("field cipher: value does not open with its key")

// Open decrypts a value sealed with the key keyID.
func (fc *FieldCipher) Open(sealed, keyID, context string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	aead, ok := fc.keys[keyID]
	if !ok {
		return "", fmt.Errorf("field cipher: no key %q configured", keyID)
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errCannotOpen
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", errCannotOpen
	}
	return string(pt), nil
}
