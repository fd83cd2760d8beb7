package models

// WithBeforeWrite returns o with a function that runs between each
// batch's read and its write, where a test makes its concurrent edits.
func (o ResealOptions) WithBeforeWrite(f func()) ResealOptions {
	o.beforeWrite = f
	return o
}
