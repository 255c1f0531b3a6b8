raise RuntimeError('this plug-in needs a database')
