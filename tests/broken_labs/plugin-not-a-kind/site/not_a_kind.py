kind = {'name': 'not-a-kind'}
