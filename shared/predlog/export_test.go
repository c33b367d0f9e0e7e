package predlog

// DecodeLineJSON and DecodeLineFast expose both line decoders to the tests
// that compare them.
func DecodeLineJSON(line []byte, fn func(Record) error) error { return decodeLineJSON(line, fn, nil) }

func DecodeLineFast(line []byte, fn func(Record) error) error {
	return newLineDecoder().decodeLine(line, fn, nil)
}

// FastLineDecoder is DecodeLineFast with one decoder for all lines, as Read
// keeps one per object.
func FastLineDecoder() func([]byte, func(Record) error) error {
	d := newLineDecoder()
	return func(line []byte, fn func(Record) error) error { return d.decodeLine(line, fn, nil) }
}
