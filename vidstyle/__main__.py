from vidstyle._start import main

raise SystemExit(main())
